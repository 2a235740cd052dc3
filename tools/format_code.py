"""把笔记本代码单元排进书的版心：每行至多 80 列（汉字等全角字符算两列）。

    python -m tools.format_code chapters/            # 改写笔记本（只改代码单元的源代码）
    python -m tools.format_code --check chapters/    # 只列出超宽的行，有则返回 1

只改有超宽行的代码单元（其余的保留手工排版），依次做三件事：

1. 行尾注释把一行撑出版心时，把注释移到这一行的上方（缩进相同）；太长的注释行折成几行；
2. 交给 black（行宽 80，它按显示宽度计算汉字）折行，再把 black 拆成一行一个的简短参数或元素
   重新装满每一行（一本书的代码栏里，``2,`` ``4,`` ``scale=1.6,`` 各占一行太浪费版面）；
3. 仍然超宽、独占一行的字符串字面量，拆成相邻的两段（Python 在解析时把它们拼回一个）。

改写前后单元的语法树（``ast.dump``）必须相同，否则这个单元保持原样并报告：所以输出不变，
:func:`cnnlib.results.code_digest` 也不变（验证矩阵的结果不会因此过期）。black 处理不了的行
（例如很长的 URL）会被列出来，留给人来改。
"""
import argparse
import ast
import io
import sys
import tokenize
import unicodedata
from pathlib import Path

import nbformat

WIDTH = 80


def width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _split_at_width(text: str, limit: int) -> int:
    """在 text 中找断点：显示宽度不超过 limit，尽量断在标点或空格之后，其次断在两个汉字之间。"""
    w, cut = 0, 0
    for i, ch in enumerate(text):
        w += width(ch)
        if w > limit:
            break
        cut = i + 1
    if cut == len(text):
        return cut
    floor = max(cut - max(cut * 2 // 5, 1), 1)   # 只在后 40% 里找，免得第一行太短
    for ok in (lambda a, b: a in " ，。；：、）)" or b in "（(",
               lambda a, b: width(a) == 2 and width(b) == 2):
        for j in range(cut, floor - 1, -1):
            if ok(text[j - 1], text[j]):
                return j
    return cut


def _comments(source: str) -> dict:
    """行号（从 1 起）→ 行尾注释开始的列（只含代码后面的注释）。"""
    found = {}
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type == tokenize.COMMENT and tok.line[:tok.start[1]].strip():
                found[tok.start[0]] = tok.start[1]
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass
    return found


def move_comments(source: str) -> str:
    """超宽行的行尾注释移到上方；超宽的整行注释折成几行。"""
    trailing = _comments(source)
    out = []
    for n, line in enumerate(source.split("\n"), 1):
        indent = line[:len(line) - len(line.lstrip())]
        if width(line) > WIDTH and n in trailing:
            code, comment = line[:trailing[n]].rstrip(), line[trailing[n]:]
            out += _wrap_comment(indent + comment)
            out.append(code)
        elif width(line) > WIDTH and line.lstrip().startswith("#") and not line.lstrip().startswith("#!"):
            out += _wrap_comment(line)
        else:
            out.append(line)
    return "\n".join(out)


def _wrap_comment(line: str) -> list:
    indent = line[:len(line) - len(line.lstrip())]
    text = line.lstrip()[1:].strip()
    lines = []
    while width(indent + "# " + text) > WIDTH:
        cut = _split_at_width(text, WIDTH - width(indent) - 2)
        if cut == 0:
            break
        lines.append(indent + "# " + text[:cut].rstrip())
        text = text[cut:].lstrip()
    return lines + [indent + "# " + text]


def split_strings(source: str) -> str:
    """独占一行（后面至多跟一个逗号或右括号）且超宽的字符串字面量，拆成相邻的两段。"""
    lines = source.split("\n")
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return source
    for tok in reversed(tokens):
        if tok.type != tokenize.STRING or tok.start[0] != tok.end[0]:
            continue
        row, col = tok.start[0] - 1, tok.start[1]
        line = lines[row]
        if width(line) <= WIDTH or line[:col].strip() or line[tok.end[1]:].strip() not in ("", ",", ")", "),"):
            continue
        pieces = _split_literal(tok.string, WIDTH - width(line[:col]) - width(line[tok.end[1]:]))
        if pieces:
            lines[row:row + 1] = [line[:col] + p for p in pieces[:-1]] + [line[:col] + pieces[-1] + line[tok.end[1]:]]
    return "\n".join(lines)


def _split_literal(literal: str, limit: int):
    """把一个字符串字面量拆成每段宽度不超过 limit 的几段；拆不了（原始字符串、三引号、
    f-string 的花括号内）就返回 None。"""
    prefix = literal[:len(literal) - len(literal.lstrip("rRbBfFuU"))]
    body = literal[len(prefix):]
    if "r" in prefix.lower() or body[:3] in ('"""', "'''"):
        return None
    quote, inner = body[0], body[1:-1]
    pieces = []
    while width(prefix + quote + inner + quote) > limit:
        cut = _split_at_width(inner, limit - width(prefix) - 2)
        # 不断在转义序列或 f-string 的 {...} 里
        while cut > 0 and (_in_braces(inner, cut, "f" in prefix.lower()) or _in_escape(inner, cut)):
            cut -= 1
        if cut == 0:
            return None
        pieces.append(_prefix_for(prefix, inner[:cut]) + quote + inner[:cut] + quote)
        inner = inner[cut:]
    return pieces + [_prefix_for(prefix, inner) + quote + inner + quote] if pieces else None


def _prefix_for(prefix: str, piece: str) -> str:
    """没有花括号的一段不必是 f-string。"""
    return prefix if "{" in piece or "}" in piece else prefix.replace("f", "").replace("F", "")


def _in_braces(text: str, cut: int, is_f: bool) -> bool:
    if not is_f:
        return False
    depth, i = 0, 0
    while i < cut:
        if text[i:i + 2] in ("{{", "}}") and depth == 0:
            i += 2
            continue
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        i += 1
    return depth > 0 or (i > cut)


def _in_escape(text: str, cut: int) -> bool:
    slashes = len(text[:cut]) - len(text[:cut].rstrip("\\"))
    return slashes % 2 == 1


def _balanced(text: str) -> bool:
    """一行是不是一个完整的元素：括号配平，没有注释，不是续行。"""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return False
    depth = 0
    for tok in tokens:
        if tok.type == tokenize.COMMENT:
            return False
        if tok.type == tokenize.OP and tok.string in "([{":
            depth += 1
        elif tok.type == tokenize.OP and tok.string in ")]}":
            depth -= 1
            if depth < 0:
                return False
    return depth == 0


SHORT = 24   # 比这还长的元素（例如一个网络层）仍然一行一个，便于逐个阅读


def pack_elements(source: str) -> str:
    """black 在括号里拆成一行一个的简短元素（如 ``2,`` ``4,`` ``scale=1.6,``）装进同一行。

    只合并连续两个以上、缩进相同、各自完整（括号配平、没有注释）、以逗号结尾、不长于
    SHORT 列、不含函数调用的行，并且它们紧跟在一个以左括号或逗号结尾的行之后；
    网络层这样的调用仍然一行一个。"""
    lines, out, i = source.split("\n"), [], 0
    while i < len(lines):
        j, indent = i, lines[i][:len(lines[i]) - len(lines[i].lstrip())]
        while (j < len(lines) and lines[j].startswith(indent) and lines[j].strip()
               and not lines[j][len(indent)].isspace() and lines[j].rstrip().endswith(",")
               and width(lines[j].strip()) <= SHORT and "(" not in lines[j]
               and _balanced(lines[j].strip())):
            j += 1
        if j - i >= 2 and out and out[-1].rstrip().endswith(("(", "[", "{", ",")):
            current = indent
            for element in (l.strip() for l in lines[i:j]):
                trial = current + (" " if current.strip() else "") + element
                if width(trial) > WIDTH and current.strip():
                    out.append(current)
                    trial = indent + element
                current = trial
            out.append(current)
            i = j
        else:
            out.append(lines[i])
            i += 1
    return "\n".join(out)


def format_source(source: str) -> str:
    """把一个代码单元折进版心；本来就不超宽的单元原样返回（保留作者手工的排版）。"""
    if all(width(line) <= WIDTH for line in source.split("\n")):
        return source
    import black

    mode = black.Mode(line_length=WIDTH, magic_trailing_comma=False)
    new = move_comments(source)
    try:
        new = black.format_str(new, mode=mode).rstrip("\n")
    except black.parsing.InvalidInput:   # 不是纯 Python（例如 IPython 魔法命令）：只做另外两步
        pass
    new = split_strings(pack_elements(new))
    try:
        same = ast.dump(ast.parse(new)) == ast.dump(ast.parse(source))
    except SyntaxError:
        same = new == source
    return new if same else source


def wide_lines(path):
    nb = nbformat.read(path, as_version=4)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            for line in cell.source.split("\n"):
                if width(line) > WIDTH:
                    yield i, line


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", type=Path)
    parser.add_argument("--check", action="store_true", help="只检查，不改写")
    args = parser.parse_args(argv)
    notebooks = sorted(p for root in args.paths
                       for p in ([root] if root.suffix == ".ipynb" else root.rglob("*.ipynb"))
                       if ".ipynb_checkpoints" not in p.parts and "_build" not in p.parts)
    total = 0
    for path in notebooks:
        if not args.check:
            nb = nbformat.read(path, as_version=4)
            changed = False
            for cell in nb.cells:
                if cell.cell_type == "code":
                    new = format_source(cell.source)
                    if new != cell.source:
                        cell.source, changed = new, True
            if changed:
                nbformat.write(nb, path)
        for i, line in wide_lines(path):
            total += 1
            print(f"{path}: 单元 {i}: {width(line)} 列: {line.strip()[:60]}")
    print(f"{len(notebooks)} 个笔记本，{total} 行超过 {WIDTH} 列")
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main())
