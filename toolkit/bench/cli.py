"""`toolkit bench`: time the kernels on each backend and set them against the machine's limits,
measured in the same run."""

from __future__ import annotations

import datetime
import sys
from types import ModuleType

import click
import numpy as np

from toolkit.kernels import BACKENDS, get_backend

from . import ceilings, files, gpu, machine, plot, table
from .runner import Plan, Roofs, rate_rows, run
from .workloads import WORKLOADS, Case, Workload, select

CPU_BACKENDS = ("naive", "numpy", "numba")


class BadOption(click.ClickException):
    """A mistake in the options: one line on stderr, exit status 2 (as click's own)."""

    exit_code = 2


def _backends(names: str | None) -> list[str]:
    """The backends of a comma list (default: the CPU ones, and cuda when a GPU is present)."""
    if names is None:
        present, _ = gpu.cuda_backend()
        return list(CPU_BACKENDS) + (["cuda"] if present else [])
    chosen = [name.strip() for name in names.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in BACKENDS]
    if unknown or not chosen:
        raise BadOption(f"unknown backend {', '.join(map(repr, unknown)) or '(none given)'}; "
                        f"choose from {', '.join(BACKENDS)}")
    return list(dict.fromkeys(chosen))


def _load(names: list[str]) -> tuple[dict[str, ModuleType], list[str]]:
    """Backend modules by name, and a line for each backend that cannot run here."""
    modules, notes = {}, []
    for name in names:
        if name == "cuda":
            module, why = gpu.cuda_backend()
            if module is None:
                notes.append(f"no GPU present: cuda rows skipped ({why})")
                continue
        else:
            try:
                module = get_backend(name)
            except ImportError as error:
                notes.append(f"the {name} backend cannot be imported ({error}): "
                             f"{name} rows skipped")
                continue
        modules[name] = module
    return modules, notes


def _sizes(workloads: list[Workload], specs: tuple[str, ...], quick: bool,
           device: bool) -> list[tuple[Workload, list[Case]]]:
    """Each workload's cases: its sweep (or quick sweep; the full one grows on a GPU), or the
    sizes ``--sizes`` gives it."""
    common: list[str] | None = None
    per_op: dict[str, list[str]] = {}
    for spec in specs:
        op, _, tokens = spec.rpartition(":")
        tokens = [t for t in tokens.split(",") if t.strip()]
        if not tokens:
            raise BadOption(f"--sizes {spec!r} names no size")
        if op and op not in WORKLOADS:
            raise BadOption(f"--sizes {spec!r}: unknown op {op!r}; "
                            f"choose from {', '.join(WORKLOADS)}")
        if op:
            per_op[op] = tokens
        else:
            common = tokens
    cases = []
    for workload in workloads:
        tokens = per_op.get(workload.name) or common or (
            workload.quick if quick else workload.sizes + (workload.device_sizes if device else ()))
        try:
            cases.append((workload, [workload.case(token) for token in tokens]))
        except ValueError as error:
            raise BadOption(str(error)) from None
    return cases


def _roofs(device: ModuleType | None, with_info: bool = True) -> tuple[Roofs, dict, list[str]]:
    """The roofs of the CPU, and of the GPU when there is one; GPU facts; notes to print."""
    roofs: Roofs = {"cpu": {"memory": ceilings.copy_bandwidth(),
                            "memory_new_array": ceilings.new_array_copy_bandwidth(),
                            "compute": ceilings.blas_matmul()}}
    notes: list[str] = []
    gpu_info: dict = {"present": device is not None}
    if device is not None:
        if with_info:
            gpu_info.update(gpu.device_info())
        roofs["gpu"] = {"memory": gpu.copy_bandwidth()}
        sgemm, why = gpu.cublas_sgemm()
        if sgemm is None:
            notes.append(f"no cuBLAS ceiling: {why}; cuda dot rows have no percentage")
        else:
            roofs["gpu"]["compute"] = sgemm
    return roofs, gpu_info, notes


class _Progress:
    """A click progress bar on stderr naming the row being timed."""

    def __init__(self, bar) -> None:
        self.bar, self.started = bar, False

    def __call__(self, label: str) -> None:
        self.bar.update(1 if self.started else 0, current_item=label)
        self.started = True


HELP = """Time the kernels on each backend and set them against the machine's limits.

\b
For each op, backend and size: a warm-up call timed apart ("first call": the
compile time of numba and cuda), then the median of --repeats repeats; the CPU
backends (naive aside) take their repeats in turns, so that their ratio compares
the same moments of a busy machine. In the same run it measures the ceilings:
memory copy bandwidth (np.copyto, beyond the last-level cache) for the
memory-bound ops, NumPy's BLAS matmul for dot, and on a GPU the device copy
bandwidth and cuBLAS SGEMM (CuPy, TF32 off).

\b
Sizes: an element count (1048576 or 2^20) or shapes (64x3x32x10+32x10); for
dot, n means n x n matrices. --sizes 2^10,2^20 sets the sizes of every op;
--sizes dot:512,1024 those of one op (repeat the option for several). With a
GPU the full sweep adds relu at 2^28 and dot at n = 4096.

\b
OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE, when set, can slow NumPy's BLAS: the
run reports the BLAS and core type in use; unset them for a fair ceiling.
"""


@click.command("bench", help=HELP)
@click.option("--ops", default=None, metavar="LIST",
              help=f"Comma list of ops [default: all: {', '.join(WORKLOADS)}].")
@click.option("--backends", default=None, metavar="LIST",
              help="Comma list of backends [default: naive,numpy,numba, and cuda on a GPU].")
@click.option("--sizes", multiple=True, metavar="[OP:]LIST",
              help="Sizes to time instead of the sweep (see above).")
@click.option("--repeats", type=click.IntRange(min=1), default=None,
              help="Timed repeats per row, the median reported [default: 5; 3 with --quick].")
@click.option("--dtype", type=click.Choice(["float32", "float64"]), default="float32",
              show_default=True)
@click.option("--naive-budget", type=click.FloatRange(min=0), default=None, metavar="SECONDS",
              help="Time a naive row may take, warm-up included: beyond it, fewer repeats, "
                   "then skipped [default: 3; 1 with --quick].")
@click.option("--json", "json_path", type=click.Path(dir_okay=False),
              help="Write every figure as JSON.")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), help="Draw a log-log PNG.")
@click.option("--table", "table_path", type=click.Path(dir_okay=False),
              help="Also write the printed table to this text file.")
@click.option("--quick", is_flag=True, help="A short sweep (make demo).")
def bench(ops, backends, sizes, repeats, dtype, naive_budget, json_path, plot_path, table_path,
          quick) -> None:
    try:
        workloads = select(ops)
    except ValueError as error:
        raise BadOption(str(error)) from None
    modules, notes = _load(_backends(backends))
    cases = _sizes(workloads, sizes, quick, device="cuda" in modules)
    for note in notes:
        click.echo(note)
    if not modules:
        click.echo("nothing left to time")
        return
    repeats = repeats or (3 if quick else 5)
    budget = naive_budget if naive_budget is not None else (1.0 if quick else 3.0)
    plan = Plan(cases, modules, np.dtype(dtype), repeats, budget)

    info = machine.describe()
    click.echo(f"machine: {info['cpu']}, {info['cores']} cores; numpy {np.__version__}, "
               f"numba {info['versions'].get('numba', 'absent')}")
    click.echo(f"BLAS: {machine.blas_summary(info)}")
    click.echo(f"CPU: {machine.simd_summary(info)}")
    warning = machine.load_warning(info)
    if warning:
        click.echo(warning)
        notes.append(warning)
    click.echo("measuring the ceilings ...", err=True)
    before, gpu_info, roof_notes = _roofs(modules.get("cuda"))
    with click.progressbar(length=plan.total, label="timing", file=sys.stderr,
                           item_show_func=lambda item: item or "") as bar:
        rows = run(plan, _Progress(bar))
        bar.update(1)
    click.echo("measuring the ceilings again ...", err=True)
    after, _, _ = _roofs(modules.get("cuda"), with_info=False)
    roofs = {device: {bound: ceilings.best(roof, after[device][bound])
                      if bound in after.get(device, {}) else roof
                      for bound, roof in found.items()}
             for device, found in before.items()}
    rate_rows(rows, roofs)
    click.echo("ceilings:\n" + table.ceilings_lines(roofs))
    for note in roof_notes:
        click.echo(note)

    text = (f"{info['cpu']}, {info['cores']} cores: {machine.simd_summary(info)}\n"
            f"BLAS: {machine.blas_summary(info)}\n\n{table.render(rows)}")
    click.echo(f"\n{dtype}, median of {repeats} repeats (fewer for naive rows that would outlast "
               f"the {budget:g} s budget).\nspeedup: over naive at the same op and size (over "
               f"numpy where naive was skipped).\n% of ceiling: memory-bound ops against copy, "
               f"dot against blas (over 100%: the arrays fit in a cache).\n")
    click.echo(text)
    record = {
        "tool": "toolkit bench",
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "settings": {"ops": [w.name for w in workloads], "backends": list(modules),
                     "dtype": dtype, "repeats": repeats, "naive_budget_s": budget, "quick": quick},
        "notes": notes + roof_notes,
        "machine": info,
        "gpu": gpu_info,
        "ceilings": {device: {bound: c.to_dict() for bound, c in found.items()}
                     for device, found in roofs.items()},
        "rows": [row.to_dict() for row in rows],
    }
    click.echo("")
    if table_path:
        files.write_text(table_path, text + "\n")
        click.echo(f"table: {table_path} (as printed above, the machine named above it)")
    if json_path:
        files.write_json(json_path, record)
        click.echo(f"JSON:  {json_path}")
    if plot_path:
        plot.draw(plot_path, rows, roofs,
                  title=f"toolkit bench, {dtype}: {info['cpu']}, {info['cores']} cores")
        click.echo(f"plot:  {plot_path}")
