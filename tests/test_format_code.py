"""tools/format_code.py：把代码折进 80 列，语法树不变。"""
import ast

import nbformat
import pytest

from tools import format_code
from tools.format_code import WIDTH, width

LONG_CELL = '''x = some_function(1, 2)  # 这是一条很长的行尾注释，把这一行撑出了书的代码栏，要移到上一行去才行
# 这是一整行的注释，同样太长：折行时应尽量断在中文标点之后，而不是把一个词从中间断开，断开后每一行都不超宽
print(f"第 {x} 轮：训练损失 {x:.3f}，训练准确率 {x:.3f}，测试准确率 {x:.3f}，这一行字符串也太长了")
result = some_function(first_argument=1, second_argument=2, third_argument=3, fourth=4)
'''


def test_width_counts_cjk_as_two_columns():
    assert width("ab") == 2 and width("汉字") == 4 and width("，") == 2


def test_trailing_comment_moves_above_with_the_same_indent():
    src = "if True:\n    y = 1  # " + "很长的注释" * 16
    out = format_code.move_comments(src)
    lines = out.split("\n")
    assert lines[-1] == "    y = 1" and all(l.startswith("    # ") for l in lines[1:-1])
    assert all(width(l) <= WIDTH for l in lines)
    assert "".join(l[6:] for l in lines[1:-1]) == "很长的注释" * 16


def test_long_string_splits_into_adjacent_literals_with_the_same_value():
    src = 'print(\n    "' + "一段很长的中文，" * 12 + '"\n)'
    out = format_code.split_strings(src)
    assert ast.dump(ast.parse(out)) == ast.dump(ast.parse(src))
    assert len(out.split("\n")) > 3 and all(width(l) <= WIDTH for l in out.split("\n"))


def test_f_string_is_not_split_inside_braces():
    literal = 'f"' + "前" * 30 + '{value:.3f}' + "后" * 20 + '"'
    pieces = format_code._split_literal(literal, 70)
    assert pieces and all("{value:.3f}" in p or ("{" not in p and "}" not in p) for p in pieces)
    assert ast.dump(ast.parse(" ".join(pieces))) == ast.dump(ast.parse(literal))


def test_format_source_fits_the_column_and_keeps_the_syntax_tree():
    pytest.importorskip("black")
    out = format_code.format_source(LONG_CELL)
    assert ast.dump(ast.parse(out)) == ast.dump(ast.parse(LONG_CELL))
    assert max(width(l) for l in out.split("\n")) <= WIDTH
    assert "# 这是一条很长的行尾注释" in out


def test_check_reports_wide_lines_and_formatting_fixes_them(tmp_path, capsys):
    pytest.importorskip("black")
    path = tmp_path / "a.ipynb"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(LONG_CELL)])
    nb.cells[0].outputs = [nbformat.v4.new_output("stream", text="输出不动\n")]
    nbformat.write(nb, path)
    assert format_code.main(["--check", str(path)]) == 1
    assert nbformat.read(path, as_version=4).cells[0].source == LONG_CELL   # --check 不改写
    assert format_code.main([str(path)]) == 0
    cell = nbformat.read(path, as_version=4).cells[0]
    assert cell.outputs[0]["text"] == "输出不动\n"
    assert ast.dump(ast.parse(cell.source)) == ast.dump(ast.parse(LONG_CELL))
