"""A small, safe filter language over neuron metadata columns, e.g. ``quality == "good" and brain_area != "root"``.

Python expression syntax, but only column names (``iscell[0]``: one value of a column of a few values per row, such
as Suite2p's is-cell flag), literals (numbers, strings, booleans, lists of them), comparisons
(``== != < <= > >= in``, ``not in``, chained), ``and``/``or``/``not``; as in ``pandas.DataFrame.query``, ``& | ~``
mean ``and or not`` (with their low precedence). Nothing is ``eval``-ed: the expression is parsed with ``ast`` and
walked, so no attribute access, call or import can run.
"""

from __future__ import annotations

import ast
import copy
import io
import json
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
                what: str = "unit", ids: np.ndarray | None = None) -> np.ndarray:
    """Indices of the rows passing ``expression`` (all rows when None); an error when none passes. ``ids``, the
    rows' ids in their NWB table, are the column ``neuron_id`` (as the package's outputs name them) unless the table
    has one."""
    if expression is None:
        return np.arange(len(table))
    if ids is not None and "neuron_id" not in table.columns:
        table = table.assign(neuron_id=np.asarray(ids))
    mask, type_hints = _evaluate(expression, table, source)
    selected = np.flatnonzero(mask)
    if selected.size == 0:
        hints = "".join(f"; {hint}" for hint in dict.fromkeys(type_hints))
        raise NoneSelected(f"no {what} passes the filter {expression!r} ({len(table)} in the file){hints}",
                           source=source)
    return selected


def filter_mask(expression: str, table: pd.DataFrame, source: str | None = None) -> np.ndarray:
    """(n_rows,) bool: the rows of ``table`` for which ``expression`` holds."""
    return _evaluate(expression, table, source)[0]


def _evaluate(expression: str, table: pd.DataFrame, source: str | None) -> tuple[np.ndarray, list[str]]:
    """``filter_mask`` and a hint for each comparison of a text column with a number or of a numeric column with
    text (which no row passes)."""
    try:
        tree = ast.parse(_words_for_symbols(expression), mode="eval")
    except (SyntaxError, tokenize.TokenError) as exc:
        raise NeurPIRError(f"unit filter {expression!r} is not a valid expression ({exc.args[0]})",
                           source=source) from exc
    evaluator = _Evaluator(table, expression)
    try:
        result = evaluator.visit(tree.body)
    except TypeError as exc:
        raise NeurPIRError(f"unit filter {expression!r} compares values of incompatible types ({exc})",
                           source=source) from exc
    except _FilterError as exc:
        raise NeurPIRError(str(exc), source=source) from exc
    mask = np.broadcast_to(np.asarray(result), (len(table),))
    if mask.dtype != bool:
        raise NeurPIRError(f"unit filter {expression!r} does not give true/false per row", source=source)
    return mask.copy(), evaluator.type_hints


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
        self.type_hints: list[str] = []

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
        left_node, left = node.left, self.visit(node.left)
        for op, right_node in zip(node.ops, node.comparators):
            right = self.visit(right_node)
            self._note_types(left_node, op, right_node)
            if isinstance(op, (ast.Eq, ast.NotEq)):
                self._note_types(right_node, op, left_node)
            result = result & self._compare(op, left, right)
            left_node, left = right_node, right
        return np.asarray(result, dtype=bool)

    def _note_types(self, column: ast.expr, op: ast.cmpop, other: ast.expr) -> None:
        """A hint when ``column`` (a column's name) holds text and ``other`` is or lists numbers, or it holds numbers
        and ``other`` is or lists text, with the comparison rewritten when the literals convert."""
        if not isinstance(column, ast.Name) or not isinstance(op, (ast.Eq, ast.NotEq, ast.In, ast.NotIn)):
            return
        values = self.table[column.id]
        literals = [n for n in ast.walk(other) if isinstance(n, ast.Constant)]
        if pd.api.types.is_string_dtype(values) and any(_is_number(n.value) for n in literals):
            held, other_kind = "text", "a number"
        elif _numbers(values) and any(isinstance(n.value, str) for n in literals):
            held, other_kind = "numbers", "text"
        else:
            return
        written = ast.unparse(ast.Compare(left=column, ops=[op], comparators=[other]))
        rewritten = _TypeSwap(to_text=held == "text").visit(copy.deepcopy(other))
        example = ast.unparse(ast.Compare(left=column, ops=[op], comparators=[rewritten]))
        meant = f" (did you mean {example}?)" if example != written else ""
        self.type_hints.append(f"column {column.id!r} holds {held}, compared here with {other_kind}{meant}")

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


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _numbers(values: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)


class _TypeSwap(ast.NodeTransformer):
    """Numbers written as text (``to_text``; every text literal then in double quotes, as a shell's single-quoted
    ``--filter`` needs them), or text that reads as a number as that number."""

    def __init__(self, to_text: bool) -> None:
        self.to_text = to_text

    def visit_UnaryOp(self, node: ast.UnaryOp) -> ast.expr:
        negative = isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant)
        return self.visit_Constant(ast.Constant(-node.operand.value)) if negative else node

    def visit_Constant(self, node: ast.Constant) -> ast.expr:
        if self.to_text and (_is_number(node.value) or isinstance(node.value, str)):
            return ast.Name(json.dumps(str(node.value)))  # unparsed as written
        if not self.to_text and isinstance(node.value, str):
            try:
                number = float(node.value)
            except ValueError:
                return node
            if not np.isfinite(number):
                return node
            return ast.Constant(int(number) if number.is_integer() and "." not in node.value else number)
        return node
