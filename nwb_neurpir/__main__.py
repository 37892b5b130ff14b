"""``python -m nwb_neurpir`` runs the ``neurpir`` command (as ``python -m nwb_neurpir.cli`` does)."""

from nwb_neurpir.cli.app import main

main()
