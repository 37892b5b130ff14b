"""``python -m nwb_neurpir.cli`` runs the ``neurpir`` command."""

from nwb_neurpir.cli.app import main

main()
