# 《卷积神经网络：从互相关到迁移学习》的构建与测试。
#   make book     安装依赖并构建 HTML 书（_build/html/index.html）
#   make test     安装依赖、构建 HTML 书，再运行全部测试（单元测试 + 以 smoke 预算执行每个笔记本的 nbval + 检查构建好的书）
#   make results  以当前环境的预算（CPU 上为 small）重新执行所有笔记本并写回输出
#   make verify   每个训练笔记本在 fp32 与 auto 下以 small 预算执行（不写回），结果 → results/verify.json
#   make bench    计算性能基准（与 d2l 并排、峰值、各模型吞吐与时间分布）→ results/performance.json 与附录“计算性能”
#   make check-html  在断网的无头 Chromium 里检查 make book 的结果（公式、图、训练输出、搜索、答案），截图在 _build/check-html/
#   make format   把笔记本的代码折进 80 列（tools/format_code.py：语法树不变，输出与验证矩阵都不受影响）
#   make student  学生版：去掉参考答案、加上作答与检查单元的笔记本（_build/student/）及其 HTML（_build/student/_build/html/）
#   make nbgrader nbgrader 作业：每章一份的源课程与发布版（_build/nbgrader/），评分流程见“如何使用本书”
#   make pdf      PDF 版：单页 HTML 在断网的无头 Chromium 里排好公式后打印 → _build/pdf/cnn-book.pdf（也复制进 _build/html/）
# 所有目标共用项目虚拟环境 .venv；requirements.txt 或 pyproject.toml 变化时自动重装。
# 不用 make 也可以：pip install -e ".[test]" 后 pytest tests/（缺数据、浏览器或 d2l 的测试会跳过并说明原因）。

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NOTEBOOKS := $(shell find chapters -name '*.ipynb' -not -path '*/.ipynb_checkpoints/*' | sort)
export LANG := C.UTF-8
export LC_ALL := C.UTF-8
export PYTHONHASHSEED := 0
# 离线数据：未设置 CNNLIB_DATA_DIR 且仓库旁有 ../shared/data 时使用它（否则 cnnlib 会尝试下载）。
ifeq ($(strip $(CNNLIB_DATA_DIR)),)
ifneq ($(wildcard ../shared/data/FashionMNIST/raw),)
export CNNLIB_DATA_DIR := $(abspath ../shared/data)
endif
endif

.PHONY: all book test results verify format bench venv fonts chromium check-html student nbgrader pdf clean help
all: help
help:
	@sed -n '2,12p' Makefile

venv: $(STAMP)
$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.txt
	# d2l 只作为测试里的参照实现（oracle）：--no-deps，避免它钉死的旧版 numpy 等；
	# 它在导入时需要的几个包单独安装（不限版本）。
	$(BIN)/python -m pip install -q scipy pandas requests matplotlib-inline
	$(BIN)/python -m pip install -q --no-deps d2l==1.0.3
	touch $(STAMP)

# 中文字体：图中的中文标签需要它；装不上时 cnnlib 自动改用英文标签。
fonts:
	@if fc-list 2>/dev/null | grep -qi 'CJK'; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "安装中文字体 fonts-noto-cjk ..."; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-noto-cjk >/dev/null) \
	    || echo "警告：fonts-noto-cjk 安装失败，图中将使用英文标签"; \
	else echo "提示：未找到中文字体（Debian/Ubuntu: apt-get install fonts-noto-cjk），图中将使用英文标签"; fi

# 无头浏览器：HTML 检查（tools/check_html.py，也在 make test 的 tests/test_book.py 中）需要它。
chromium:
	@if command -v chromium >/dev/null || command -v chromium-browser >/dev/null || command -v google-chrome >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "安装 chromium（无头浏览器，用于 HTML 检查）..."; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	    || echo "警告：chromium 安装失败，将跳过 HTML 检查"; \
	else echo "提示：未找到 chromium（Debian/Ubuntu: apt-get install chromium），将跳过 HTML 检查"; fi

book: venv fonts
	rm -rf _build/html
	$(BIN)/jupyter-book build . -W --keep-going
	@echo "书已生成：$(CURDIR)/_build/html/index.html"

# 在断网的无头 Chromium 里检查 make book 构建好的 _build/html（约 1 分钟），截图写到 _build/check-html/
check-html: venv chromium
	$(BIN)/python -m tools.check_html --skip-without-browser _build/html

# 学生版（tools/student_edition.py）：复制书的源文件树，删掉带 solution 标签的单元（答案），在有代码答案的练习后
# 插入“在此作答”单元和 checks/ 里的检查单元，再构建 HTML；真正的书和提交的笔记本不受影响
student: venv fonts
	$(BIN)/python -m tools.student_edition --out _build/student
	@echo "学生版：$(CURDIR)/_build/student/chapters/（笔记本），$(CURDIR)/_build/student/_build/html/index.html（网页）"

# nbgrader 作业（tools/nbgrader_course.py）：学生版的同一套作答与检查单元，带上 nbgrader 的元数据；参考答案在
# 源课程 _build/nbgrader/source/ 的解答区域里，nbgrader generate_assignment 生成发布版 _build/nbgrader/release/。
# 重复运行只重写 source/ 与 release/，不动成绩库与学生的提交（make clean 会删掉它们：正式使用时请用 --out 另放）
nbgrader: venv
	$(BIN)/python -m tools.nbgrader_course --out _build/nbgrader

# PDF 版（tools/make_pdf.py，两核上约 2 分钟）：jupyter-book 的 singlehtml（-W，缓存在 _build/pdf/）由无头 Chromium
# 在本地 MathJax 排版之后打印；有目录（带页码）、书签和编号，参考答案在书末。已有 _build/html 时复制一份进去，
# 网页版“如何使用本书”链接到它，所以发布时先 make book 再 make pdf
pdf: venv fonts chromium
	$(BIN)/python -m tools.make_pdf

# 每件事只做一次：先构建书（tests/test_book.py 检查的就是这次构建的 _build/html）；再在同一次 pytest 中运行
# 单元测试与笔记本（nbval，严格模式，预算固定为 smoke）。nbval 执行的是 _build/nbval/ 里的副本：提交的单元和
# 输出原样保留，另插入了学生版检查单元的测试（tools/student_edition.py），所以每个笔记本只执行一遍。
# CNNLIB_NO_SKIP=1：本该运行的测试缺了东西（数据、浏览器、d2l）就算失败。
test: book chromium
	$(BIN)/python -m tools.student_edition --verification _build/nbval
	CNNLIB_BUDGET=smoke CNNLIB_NO_SKIP=1 $(BIN)/python -m pytest -p no:cacheprovider tests $(addprefix _build/nbval/,$(NOTEBOOKS)) \
	  --nbval --nbval-sanitize-with tests/sanitize.cfg --nbval-cell-timeout 300 -q --durations=20

# NB=路径 只执行指定的笔记本，例如 make results NB=chapters/ch02_classic/nin.ipynb
results: venv fonts
	$(BIN)/python -m tools.execute_notebooks $(or $(NB),$(NOTEBOOKS))

# 验证矩阵（不属于 CI：两核上全部约一小时）：在内存里的副本中执行，提交的笔记本不变；NB=路径 只验证指定的笔记本
verify: venv fonts
	$(BIN)/python -m tools.verify_notebooks $(NB)

format: venv
	$(BIN)/python -m tools.format_code chapters/

# 计算性能基准（不属于测试；结果随机器而变，两核上约 7 分钟，运行时机器上不要有别的重负载）：
# 写出 results/performance.json，再重新执行由它生成的附录一页
bench: venv fonts
	$(BIN)/python benchmarks/performance.py
	$(BIN)/python -m tools.execute_notebooks chapters/appendix/performance.ipynb

clean:
	rm -rf _build
