"""训练预算：同一个笔记本按 `full` / `small` / `smoke` 三种规模运行。

- ``full``  ：书中给出的超参数（与《动手学深度学习》相同的规模），有 GPU 时的默认值；
- ``small`` ：CPU 上的默认值，两核机器上每个笔记本 ≤ 10 分钟，仍能学到东西；
- ``smoke`` ：持续集成（CI）用，只训练几个批量，检查流程与指标是否合理。

环境变量 ``CNNLIB_BUDGET`` 可以覆盖默认值；``CNNLIB_SEED`` 换掉训练网络的笔记本所用的随机种子
（见 :func:`get_seed`，``make verify`` 用它在多个种子下检查结论）。
"""
import os

from .device import has_accelerator

BUDGETS = ("smoke", "small", "full")
ENV_VAR = "CNNLIB_BUDGET"
SEED_ENV = "CNNLIB_SEED"
# 命令行（python -m cnnlib train）在各预算下默认用的训练集、测试集大小和轮数（None 表示整个划分）。
# 笔记本不用它：每个笔记本用 pick() 给出适合那一节模型的取值。
DATA_SIZES = {"smoke": dict(limit=256, test_limit=256, epochs=1),
              "small": dict(limit=10_000, test_limit=2_000, epochs=2),
              "full": dict(limit=None, test_limit=None, epochs=10)}


def default_budget() -> str:
    """有 GPU（CUDA/MPS）时为 ``full``，否则为 ``small``。"""
    return "full" if has_accelerator() else "small"


def check_budget(name) -> str:
    """校验预算名称，返回规范化（小写、去空白）的名称；非法时报错并列出合法取值。"""
    value = str(name).strip().lower()
    if value not in BUDGETS:
        raise ValueError(
            f"未知的训练预算（budget）{name!r}：合法取值为 {', '.join(BUDGETS)}。"
            f"请检查环境变量 {ENV_VAR} 或传入的参数。"
        )
    return value


def get_budget(budget=None) -> str:
    """当前的训练预算。

    优先级：参数 ``budget`` > 环境变量 ``CNNLIB_BUDGET`` > 默认值（见 :func:`default_budget`）。
    """
    if budget is None:
        budget = os.environ.get(ENV_VAR, "").strip() or default_budget()
    return check_budget(budget)


def pick(smoke, small, full, budget=None):
    """按当前预算从三个取值中挑一个，例如 ``pick(smoke=2, small=5, full=10)``。"""
    return {"smoke": smoke, "small": small, "full": full}[get_budget(budget)]


def get_seed(seed=None) -> int:
    """训练网络用的随机种子：参数 ``seed`` > 环境变量 ``CNNLIB_SEED`` > 0。书中写
    ``torch.manual_seed(cnnlib.get_seed())``：不设环境变量时就是种子 0，设了就换一个种子重跑。"""
    raw = (os.environ.get(SEED_ENV, "").strip() or "0") if seed is None else str(seed).strip()
    if not (raw.isascii() and raw.isdigit()):
        raise ValueError(f"随机种子（seed）必须是非负整数，得到 {raw!r}；请检查环境变量 {SEED_ENV}。")
    return int(raw)
