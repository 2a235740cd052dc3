"""书的构建工具（不属于 cnnlib，不随 wheel 发布）：

- ``execute_notebooks``：``make results`` 真实执行笔记本、写回输出和执行记录 ``results/notebooks.json``；
- ``student_edition``：``make student`` 生成不含答案、带作答与检查单元的学生版；
- ``make_glossary``：从 ``glossary_terms.yml`` 生成附录的术语表；
- ``check_html``：``make check-html`` 在断网的无头 Chromium 里检查构建好的网页。

在仓库根目录用 ``python -m tools.<名字>`` 运行。
"""
