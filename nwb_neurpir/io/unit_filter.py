"""A small, safe filter language over neuron metadata columns, e.g. ``quality == "good" and brain_area != "root"``.

Python expression syntax, but only column names (``iscell[0]``: one value of a column of a few values per row, such
as Suite2p's is-cell flag), literals (numbers, strings, booleans, lists of them), comparisons
(``== != < <= > >= in``, ``not in``, chained), ``and``/``or``/``not``; as in ``pandas.DataFrame.query``, ``& | ~``
mean ``and or not`` (with their low precedence). Nothing is ``eval``-ed: the expression is parsed with ``ast`` and
walked, so no attribute access, call or import can run.
"""

from __future__ import annotations

import ast
import io
import operator
import tokenize
from collections.abc import Callable

import numpy as np
import pandas as pd

from nwb_neurpir.errors import NeurPIRError, NoneSelected
from nwb_neurpir.io.h5_tables import FEW_VALUES, subscripted

__all__ = ["filter_mask", "select_rows"]

_COMPARISONS: dict[type, Callable[[object, object], object]] = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge,
}


def select_rows(expression: str | None, table: pd.DataFrame, source: str | None = None,
                what: str = "unit") -> np.ndarray:
    """Indices of the rows passing ``expression`` (all rows when None); an error when none passes."""
    if expression is None:
        return np.arange(len(table))
    selected = np.flatnonzero(filter_mask(expression, table, source))
    if selected.size == 0:
        raise NoneSelected(f"no {what} passes the filter {expression!r} ({len(table)} in the file)", source=source)
    return selected


def filter_mask(expression: str, table: pd.DataFrame, source: str | None = None) -> np.ndarray:
    """(n_rows,) bool: the rows of ``table`` for which ``expression`` holds."""
    try:
        tree = ast.parse(_words_for_symbols(expression), mode="eval")
    except (SyntaxError, tokenize.TokenError) as exc:
        raise NeurPIRError(f"unit filter {expression!r} is not a valid expression ({exc.args[0]})",
                           source=source) from exc
    try:
        result = _Evaluator(table, expression).visit(tree.body)
    except TypeError as exc:
        raise NeurPIRError(f"unit filter {expression!r} compares values of incompatible types ({exc})",
                           source=source) from exc
    except _FilterError as exc:
        raise NeurPIRError(str(exc), source=source) from exc
    mask = np.broadcast_to(np.asarray(result), (len(table),))
    if mask.dtype != bool:
        raise NeurPIRError(f"unit filter {expression!r} does not give true/false per row", source=source)
    return mask.copy()


_SYMBOL_WORDS = {"&": "and", "|": "or", "~": "not"}


def _words_for_symbols(expression: str) -> str:
    """``& | ~`` outside string literals replaced by ``and or not``."""
    tokens = tokenize.generate_tokens(io.StringIO(expression.strip()).readline)
    return tokenize.untokenize(
        (tokenize.NAME, _SYMBOL_WORDS[token.string]) if token.type == tokenize.OP and token.string in _SYMBOL_WORDS
        else (token.type, token.string) for token in tokens).strip()


class _FilterError(Exception):
    pass


class _Evaluator(ast.NodeVisitor):
    def __init__(self, table: pd.DataFrame, expression: str) -> None:
        self.table = table
        self.expression = expression

    def generic_visit(self, node: ast.AST) -> object:
        raise _FilterError(f"unit filter {self.expression!r}: {type(node).__name__} is not allowed "
                           "(use column names, literals, comparisons, and/or/not)")

    def visit_Name(self, node: ast.Name) -> np.ndarray:
        return self._column(node.id)

    def visit_Subscript(self, node: ast.Subscript) -> np.ndarray:
        """``iscell[0]``: one value of a column of a few values per row (read as the column ``iscell[0]``)."""
        index = node.slice
        if not (isinstance(node.value, ast.Name) and isinstance(index, ast.Constant) and type(index.value) is int):
            return self.generic_visit(node)
        return self._column(subscripted(node.value.id, index.value), node.value.id)

    def _column(self, name: str, whole: str | None = None) -> np.ndarray:
        """The column ``name`` (``whole``: the column it is one value of)."""
        if (whole or name) in self.table.attrs.get("several_values", ()):
            raise _FilterError(f"unit filter {self.expression!r}: column {whole or name!r} holds more than "
                               f"{FEW_VALUES} values per row; a filter compares one value per row")
        parts = [column for column in map(str, self.table.columns) if column.startswith(f"{name}[")]
        if parts and name not in self.table.columns:
            raise _FilterError(f"unit filter {self.expression!r}: column {name!r} holds {len(parts)} values per row "
                               f"(e.g. Suite2p's iscell: is-cell flag and probability); compare one of them: "
                               f"{', '.join(parts)}")
        if name not in self.table.columns:
            raise _FilterError(f"unit filter {self.expression!r}: no column {name!r} "
                               f"(columns: {', '.join(map(str, self.table.columns))})")
        return self.table[name].to_numpy()

    def visit_Constant(self, node: ast.Constant) -> object:
        if not isinstance(node.value, (str, int, float, bool)):
            return self.generic_visit(node)
        return node.value

    def visit_List(self, node: ast.List | ast.Tuple | ast.Set) -> list[object]:
        return [self.visit(element) for element in node.elts]

    visit_Tuple = visit_List
    visit_Set = visit_List

    def visit_UnaryOp(self, node: ast.UnaryOp) -> object:
        operand = self.visit(node.operand)
        if isinstance(node.op, ast.Not):
            return ~np.asarray(operand, dtype=bool)
        if isinstance(node.op, ast.USub) and isinstance(operand, (int, float)):
            return -operand
        return self.generic_visit(node)

    def visit_BoolOp(self, node: ast.BoolOp) -> np.ndarray:
        values = [np.asarray(self.visit(value), dtype=bool) for value in node.values]
        combine = np.logical_and if isinstance(node.op, ast.And) else np.logical_or
        return combine.reduce(np.broadcast_arrays(*values))

    def visit_Compare(self, node: ast.Compare) -> np.ndarray:
        result: np.ndarray | bool = True
        left = self.visit(node.left)
        for op, right_node in zip(node.ops, node.comparators):
            right = self.visit(right_node)
            result = result & self._compare(op, left, right)
            left = right
        return np.asarray(result, dtype=bool)

    def _compare(self, op: ast.cmpop, left: object, right: object) -> np.ndarray:
        if isinstance(op, (ast.In, ast.NotIn)):
            if not isinstance(right, list):
                raise _FilterError(f"unit filter {self.expression!r}: 'in' needs a list, e.g. area in ['CA1', 'CA3']")
            found = np.isin(np.asarray(left, dtype=object), np.asarray(right, dtype=object))
            return ~found if isinstance(op, ast.NotIn) else found
        compare = _COMPARISONS.get(type(op))
        if compare is None:
            raise _FilterError(f"unit filter {self.expression!r}: operator {type(op).__name__} is not allowed")
        return np.asarray(compare(left, right), dtype=bool)
