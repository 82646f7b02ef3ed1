"""Reusable pieces for driving a real JupyterLab in headless Chromium (Playwright, sync API).

Fixtures in ``tests/ui/conftest.py`` wire these together; browser tests of every widget
(ranked list, profile editor, prompt playground, chat) use the helpers below:

* :func:`write_notebook`: store a notebook with the python3 kernelspec (else a "Select
  Kernel" dialog blocks every click).
* :func:`open_notebook`: open a notebook by path (relative to the server root) in a fresh
  workspace and wait until its Python kernel is ready.
* :func:`run_all`: run all cells and wait until they have finished and the kernel is idle.
* :func:`output_area`, :func:`tracebacks`: look only inside ``.jp-OutputArea`` (the menu bar
  and toolbar also have "Run" controls and text).
* :func:`run_code`: execute one snippet in the page's kernel and return its text output
  (used to prove that a click in the browser reached the kernel).
"""
from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

#: Debian's ``chromium`` package. ``RECNB_CHROMIUM`` overrides it.
DEFAULT_CHROMIUM = "/usr/bin/chromium"
#: Flags verified on this kind of machine (see shared RECIPES: "JupyterLab in a real browser").
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PYTHON3_KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}

# Generous: the machine has 2 shared cores, and the first kernel start imports a lot.
KERNEL_TIMEOUT_MS = 120_000
RUN_TIMEOUT_MS = 300_000


def chromium_candidate() -> Path:
    """Where the Chromium binary is looked for: ``$RECNB_CHROMIUM`` or Debian's path."""
    return Path(os.environ.get("RECNB_CHROMIUM") or DEFAULT_CHROMIUM)


def chromium_executable() -> Path | None:
    """The Chromium binary to drive, or None when it is not installed."""
    path = chromium_candidate()
    return path if path.is_file() and os.access(path, os.X_OK) else None


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() == "true"


# -- the server -----------------------------------------------------------------------------
@dataclass
class LabServer:
    """A running ``jupyter lab`` on loopback, isolated in its own config/data/runtime dirs."""

    root: Path
    port: int
    token: str
    home: Path
    proc: subprocess.Popen
    log: Path
    env: dict = field(repr=False, default_factory=dict)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str = "lab") -> str:
        sep = "&" if "?" in path else "?"
        return f"{self.base_url}/{path.lstrip('/')}{sep}token={self.token}"

    def notebook_url(self, relpath: str | Path, workspace: str | None = None) -> str:
        """A URL opening ``relpath`` in its own empty workspace (no tabs restored from earlier tests)."""
        workspace = workspace or f"t{uuid.uuid4().hex[:10]}"
        rel = Path(relpath).as_posix()
        return self.url(f"lab/workspaces/{workspace}/tree/{rel}")

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


def shutdown_kernels(server: "LabServer") -> int:
    """Stop every kernel the server runs (REST API), so one test's kernel does not idle through the next."""
    import json
    import urllib.request

    def call(method: str, path: str):
        req = urllib.request.Request(f"{server.base_url}{path}", method=method,
                                     headers={"Authorization": f"token {server.token}"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.read()

    kernels = json.loads(call("GET", "/api/kernels") or b"[]")
    for k in kernels:
        call("DELETE", f"/api/kernels/{k['id']}")
    return len(kernels)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def lab_env(home: Path) -> dict:
    """Environment for the server and its kernels: every Jupyter/IPython dir under ``home``."""
    env = dict(os.environ)
    dirs = {
        "JUPYTER_CONFIG_DIR": home / "config",
        "JUPYTER_DATA_DIR": home / "data",
        "JUPYTER_RUNTIME_DIR": home / "runtime",
        "IPYTHONDIR": home / "ipython",
    }
    for name, path in dirs.items():
        path.mkdir(parents=True, exist_ok=True)
        env[name] = str(path)
    env["JUPYTER_PLATFORM_DIRS"] = "1"
    env.pop("JUPYTER_PATH", None)
    # The news notification covers part of the page: turn the fetch off.
    settings = dirs["JUPYTER_CONFIG_DIR"] / "lab" / "user-settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True, exist_ok=True)
    (settings / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )
    # Never write outputs back into the repository's notebooks (they are stored without outputs).
    docmanager = dirs["JUPYTER_CONFIG_DIR"] / "lab" / "user-settings" / "@jupyterlab" / "docmanager-extension"
    docmanager.mkdir(parents=True, exist_ok=True)
    (docmanager / "plugin.jupyterlab-settings").write_text(json.dumps({"autosave": False}))
    return env


def start_lab(root: Path, home: Path, timeout: float = 90.0) -> LabServer:
    """Start ``jupyter lab`` (this interpreter's) on a free loopback port; wait until it answers."""
    home.mkdir(parents=True, exist_ok=True)
    env = lab_env(home)
    port, token = free_port(), secrets.token_hex(16)
    cmd = [
        sys.executable, "-m", "jupyterlab",
        "--no-browser",
        "--ip", "127.0.0.1",
        "--port", str(port),
        "--ServerApp.port_retries=0",
        f"--ServerApp.token={token}",
        f"--ServerApp.root_dir={root}",
        # Temporary test notebooks live under .cache/ (git-ignored), a hidden folder.
        "--ContentsManager.allow_hidden=True",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        # window.jupyterapp: lets helpers run Lab commands instead of hunting menu items.
        "--LabApp.expose_app_in_browser=True",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    log = home / "jupyter-lab.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            cmd, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: stop_lab can end it and its kernels
        )
    server = LabServer(root=root, port=port, token=token, home=home, proc=proc, log=log, env=env)
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"jupyter lab exited with {proc.returncode} before answering:\n{server.log_tail()}")
        try:
            with urllib.request.urlopen(server.url("api/status"), timeout=2) as resp:
                if resp.status == 200:
                    return server
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            pass
        if time.monotonic() > deadline:
            stop_lab(server)
            raise RuntimeError(f"jupyter lab did not answer within {timeout:.0f}s:\n{server.log_tail()}")
        time.sleep(0.25)


def stop_lab(server: LabServer, grace: float = 15.0) -> None:
    """SIGTERM the server (it shuts its kernels down), then SIGKILL its process group if needed."""
    proc = server.proc
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
    try:  # anything left in the group it was started in (kernels) goes too
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    if proc.poll() is None:
        proc.wait(timeout=5)


# -- notebooks ------------------------------------------------------------------------------
def write_notebook(path: Path, cells: list, parameters: dict | None = None) -> Path:
    """Write a notebook with the python3 kernelspec. ``cells``: code strings, or ("markdown", text).

    ``parameters`` (name -> value) becomes a first code cell tagged ``parameters``.
    """
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = dict(PYTHON3_KERNELSPEC)
    nb.metadata["language_info"] = {"name": "python"}
    if parameters:
        src = "\n".join(f"{k} = {v!r}" for k, v in parameters.items())
        nb.cells.append(nbformat.v4.new_code_cell(src, metadata={"tags": ["parameters"]}))
    for cell in cells:
        if isinstance(cell, tuple) and cell[0] == "markdown":
            nb.cells.append(nbformat.v4.new_markdown_cell(cell[1]))
        else:
            nb.cells.append(nbformat.v4.new_code_cell(cell))
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


# -- the page -------------------------------------------------------------------------------
_KERNEL_READY_JS = """
() => {
  const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
  if (!panel) return false;
  const name = panel.querySelector('.jp-Toolbar-kernelName');
  const status = panel.querySelector('.jp-Notebook-ExecutionIndicator');
  const text = name ? name.textContent.trim() : '';
  return /python/i.test(text) && !!status && status.getAttribute('data-status') === 'idle';
}
"""

_NOTEBOOK_IDLE_JS = """
() => {
  const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
  if (!panel) return false;
  const status = panel.querySelector('.jp-Notebook-ExecutionIndicator');
  if (!status || status.getAttribute('data-status') !== 'idle') return false;
  const prompts = [...panel.querySelectorAll('.jp-CodeCell .jp-InputPrompt')];
  return !prompts.some((p) => p.textContent.includes('*'));
}
"""


def kernel_state(page) -> dict:
    """What the active notebook's toolbar shows: kernel name and execution status (for messages)."""
    return page.evaluate(
        """() => {
          const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
          const q = (s) => panel && panel.querySelector(s);
          const name = q('.jp-Toolbar-kernelName');
          const status = q('.jp-Notebook-ExecutionIndicator');
          const dialog = document.querySelector('.jp-Dialog');
          return {name: name ? name.textContent.trim() : null,
                  status: status ? status.getAttribute('data-status') : null,
                  dialog: dialog ? dialog.textContent.trim().slice(0, 200) : null};
        }"""
    )


def wait_for_kernel(page, timeout_ms: int = KERNEL_TIMEOUT_MS) -> None:
    """Wait for a Python kernel name AND idle: the toolbar says idle before any kernel exists."""
    try:
        page.wait_for_function(_KERNEL_READY_JS, timeout=timeout_ms, polling=200)
    except Exception as exc:  # playwright TimeoutError: say what the page showed instead
        raise AssertionError(f"no idle Python kernel after {timeout_ms / 1000:.0f}s: {kernel_state(page)}") from exc


def open_notebook(page, server: LabServer, relpath: str | Path, timeout_ms: int = KERNEL_TIMEOUT_MS) -> None:
    """Open a notebook (path relative to the server root) in a fresh workspace; wait for its kernel."""
    page.goto(server.notebook_url(relpath), wait_until="domcontentloaded")
    page.wait_for_selector(".jp-NotebookPanel .jp-Notebook .jp-Cell", timeout=timeout_ms)
    page.wait_for_function("() => !!window.jupyterapp", timeout=timeout_ms)
    wait_for_kernel(page, timeout_ms)


def run_all(page, timeout_ms: int = RUN_TIMEOUT_MS) -> None:
    """Run all cells of the active notebook; wait until Lab reports them done and the kernel idle."""
    wait_for_kernel(page)
    page.evaluate(
        """() => {
          window.__recnbRunAll = 'running';
          window.jupyterapp.commands.execute('notebook:run-all-cells').then(
            (ok) => { window.__recnbRunAll = ok === false ? 'failed' : 'done'; },
            (err) => { window.__recnbRunAll = 'error: ' + err; });
        }"""
    )
    try:
        page.wait_for_function("() => window.__recnbRunAll !== 'running'", timeout=timeout_ms, polling=250)
        page.wait_for_function(_NOTEBOOK_IDLE_JS, timeout=timeout_ms, polling=250)
    except Exception as exc:
        raise AssertionError(
            f"run all did not finish in {timeout_ms / 1000:.0f}s: {kernel_state(page)}; "
            f"errors so far: {tracebacks(page)}"
        ) from exc


def output_area(page):
    """Locator of all notebook output areas: scope every selector to these."""
    return page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea")


def tracebacks(page) -> list[str]:
    """Texts of error and stderr outputs that contain a Traceback (Lab renders errors as stderr)."""
    return page.evaluate(
        """() => {
          const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
          if (!panel) return [];
          const sel = '.jp-OutputArea [data-mime-type="application/vnd.jupyter.stderr"]';
          return [...panel.querySelectorAll(sel)]
            .map((n) => n.textContent)
            .filter((t) => t.includes('Traceback'));
        }"""
    )


def cell_count(page) -> int:
    return page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell").count()


def run_code(page, code: str, timeout_ms: int = 60_000) -> str:
    """Execute ``code`` in the active notebook's kernel; return its stdout (stream) text.

    Goes through the same kernel session as the cells, so it sees their variables: a way to
    check in Python that a browser interaction reached the kernel.
    """
    result = page.evaluate(
        """async ([code, timeout]) => {
          const panel = window.jupyterapp.shell.currentWidget;
          const kernel = panel.sessionContext.session.kernel;
          const future = kernel.requestExecute({code, store_history: false});
          let text = '';
          let error = null;
          future.onIOPub = (msg) => {
            const t = msg.header.msg_type;
            if (t === 'stream') text += msg.content.text;
            else if (t === 'error') error = msg.content.ename + ': ' + msg.content.evalue;
            else if (t === 'execute_result') text += (msg.content.data['text/plain'] || '');
          };
          const timer = new Promise((_, reject) => setTimeout(() => reject(new Error('timeout')), timeout));
          await Promise.race([future.done, timer]);
          return {text, error};
        }""",
        [code, timeout_ms],
    )
    if result["error"]:
        raise AssertionError(f"kernel raised {result['error']} running {code!r}")
    return result["text"]


def kernel_until(page, condition: str, seconds: float = 60.0) -> None:
    """Poll the kernel until ``condition`` (Python) holds: one execute per try, so the page's widget
    messages are handled in between."""
    deadline = time.monotonic() + seconds
    while run_code(page, f"print(bool({condition}))").strip() != "True":
        assert time.monotonic() < deadline, f"the kernel never saw {condition}"
        time.sleep(0.2)


def run_notebook(page, server: LabServer, scratch_dir, name: str, cells: list):
    """Write ``cells`` as notebook ``name`` in the scratch folder, open it in the lab, run every cell,
    check no cell raised, and return the output area."""
    folder, rel = scratch_dir
    write_notebook(folder / name, cells)
    open_notebook(page, server, rel / name)
    run_all(page)
    assert tracebacks(page) == []
    return output_area(page)
