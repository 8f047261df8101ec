"""The course on a JupyterHub: students log in, fetch, validate and submit in their own
JupyterLab; the instructor releases, collects, grades and returns feedback with nbgrader's
exchange (docs/hub.md).

The pieces, each the real thing:

* JupyterHub (PyPI, pinned) with configurable-http-proxy (npm, pinned in
  package-lock.json, installed by scripts/setup.sh in node_modules/);
* PAM login of local Unix accounts (:data:`HUB_STUDENTS`, made by scripts/setup.sh);
  each student's JupyterLab is spawned as that student (LocalProcessSpawner, the hub
  running as root), from the course's own environment (the project's .venv);
* the students' nbgrader configuration (:func:`write_student_config`): the exchange and
  the course id, submissions private to the student and the instructors
  (:mod:`dustcourse.hub_exchange`), the Assignment List and Validate extensions on,
  formgrader, Create Assignment and Course List off;
* nbgrader's exchange folder (:func:`prepare_exchange`), writable by everyone as
  nbgrader's documentation prescribes (plus the sticky bit), with the course's own
  folders made beforehand by the instructor, in the modes nbgrader gives them.

``dustcourse hub`` (``make hub``) starts it on loopback for a trial; the hub test
(tests/test_hub.py) starts it once per test session with :func:`start_hub`.
"""

from __future__ import annotations

import json
import os
import pwd
import secrets
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent  # the course (a clone of the project)
VENV_BIN = Path(sys.executable).parent  # the course environment the students use
PROXY = ROOT / "node_modules" / ".bin" / "configurable-http-proxy"

HUB_STUDENTS = ("dust-student1", "dust-student2")  # scripts/setup.sh creates them
EXCHANGE = Path("/srv/nbgrader/exchange")  # nbgrader's default exchange root
TRIAL_RUNTIME = Path("/var/lib/dustcourse-hub")  # `dustcourse hub`'s config and state

# What students see of nbgrader in JupyterLab: the Assignment List (fetch, validate,
# submit, fetch feedback) and the notebook's Validate button; never the instructor's tools.
STUDENT_LAB_OFF = ("@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:create-assignment",
                   "@jupyter/nbgrader:course-list")
STUDENT_SERVER_OFF = ("nbgrader.server_extensions.formgrader",
                      "nbgrader.server_extensions.course_list")

# nbgrader's modes for a course in the exchange (nbgrader/exchange/default/
# release_assignment.py): the course and outbound readable by all, inbound writable but
# not listable (a submission's folder name carries a random part), feedback traversable
# but not listable (a page's name is a hash of the submission's secret).
COURSE_MODES = {"": 0o755, "outbound": 0o755, "inbound": 0o2733, "feedback": 0o711}


class HubError(RuntimeError):
    """The hub cannot start here; the message says what to do."""


@dataclass
class Hub:
    """A configured hub: where its files are and where it listens."""

    runtime: Path  # config and students' settings (readable by all); private/ 0700
    exchange: Path
    course_id: str
    port: int = 8000
    students: tuple[str, ...] = HUB_STUDENTS
    api_token: str = field(default_factory=lambda: secrets.token_hex(32))
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def student_config(self) -> Path:
        return self.runtime / "student-config"

    @property
    def log(self) -> Path:
        return self.runtime / "private" / "jupyterhub.log"

    def home(self, user: str) -> Path:
        return Path(pwd.getpwnam(user).pw_dir)


def course_id(root: Path = ROOT) -> str:
    from .grading.autograde import load_config

    return load_config(root).CourseDirectory.course_id


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def check_accounts(students: tuple[str, ...]) -> None:
    """Each student is a Unix account with a home, and can run the course environment
    (every folder above .venv must be open to them)."""
    if os.geteuid() != 0:
        raise HubError("the hub spawns each student's JupyterLab as that student, so it "
                       "runs as root: `sudo make hub` (or `sudo .venv/bin/dustcourse hub`)")
    if not PROXY.is_file():
        raise HubError(f"{PROXY} is missing: run `make setup` (npm ci installs the proxy)")
    for user in students:
        try:
            entry = pwd.getpwnam(user)
        except KeyError:
            raise HubError(f"no Unix account {user}: run `make setup` as root (or with "
                           "sudo), which creates the hub's trial accounts") from None
        probe = subprocess.run(
            [str(VENV_BIN / "python"), "-c", "import dustcourse"],
            user=entry.pw_uid, group=entry.pw_gid, cwd="/", capture_output=True, text=True,
            env={"PATH": "/usr/bin:/bin", "HOME": entry.pw_dir},
        )
        if probe.returncode:
            raise HubError(
                f"{user} cannot run the course environment {VENV_BIN.parent}: every folder "
                "above it must be open to other users (o+x), the environment readable (o+r); "
                f"or install the course in a shared place (docs/hub.md).\n{probe.stderr[-500:]}")


def set_passwords(students: tuple[str, ...]) -> dict[str, str]:
    """A fresh random password for each trial account (chpasswd); returns them."""
    passwords = {user: secrets.token_urlsafe(12) for user in students}
    lines = "".join(f"{user}:{password}\n" for user, password in passwords.items())
    subprocess.run(["chpasswd"], input=lines, text=True, check=True)
    return passwords


def prepare_exchange(exchange: Path, course: str, owner: tuple[int, int] = (0, 0)) -> None:
    """The exchange root writable by everyone (nbgrader's docs: ``chmod ugo+rw``; the
    sticky bit added so no student can rename or remove what is not theirs) and the
    course's folders made by the instructor (``owner``: uid, gid) in nbgrader's modes, so
    no student can take the course's name first."""
    exchange.mkdir(parents=True, exist_ok=True)
    os.chmod(exchange, 0o1777)
    for name, mode in COURSE_MODES.items():
        folder = exchange / course / name
        folder.mkdir(exist_ok=True)
        os.chown(folder, *owner)
        os.chmod(folder, mode)


def write_student_config(folder: Path, exchange: Path, course: str) -> None:
    """The configuration every student's JupyterLab reads (JUPYTER_CONFIG_PATH)."""
    (folder / "labconfig").mkdir(parents=True, exist_ok=True)
    (folder / "nbgrader_config.py").write_text(
        "# Students' nbgrader settings, written by dustcourse.hub\n"
        "c = get_config()  # noqa: F821\n"
        f"c.Exchange.root = {str(exchange)!r}\n"
        f"c.CourseDirectory.course_id = {course!r}\n"
        "# a submission only its student and the instructors can read\n"
        "c.ExchangeFactory.submit = 'dustcourse.hub_exchange.PrivateSubmit'\n")
    (folder / "jupyter_server_config.json").write_text(json.dumps({
        "ServerApp": {"jpserver_extensions": dict.fromkeys(STUDENT_SERVER_OFF, False)},
        # nothing fetched from outside: no update check, no news, no PyPI search
        "LabApp": {"check_for_updates_class": "jupyterlab.NeverCheckForUpdate",
                   "news_url": "", "extension_manager": "readonly"},
    }, indent=1))
    (folder / "labconfig" / "page_config.json").write_text(json.dumps(
        {"disabledExtensions": dict.fromkeys(STUDENT_LAB_OFF, True)}, indent=1))
    for path in [folder, *folder.rglob("*")]:
        os.chmod(path, 0o755 if path.is_dir() else 0o644)


def hub_config(hub: Hub) -> str:
    """jupyterhub_config.py of the hub."""
    private = hub.runtime / "private"
    settings = {
        "JupyterHub.bind_url": hub.url,
        "JupyterHub.hub_bind_url": f"http://127.0.0.1:{free_port()}",
        "JupyterHub.authenticator_class": "pam",
        "JupyterHub.db_url": f"sqlite:///{private / 'jupyterhub.sqlite'}",
        "JupyterHub.cookie_secret_file": str(private / "jupyterhub_cookie_secret"),
        "JupyterHub.cleanup_servers": True,
        "ConfigurableHTTPProxy.command": [str(PROXY)],
        "ConfigurableHTTPProxy.api_url": f"http://127.0.0.1:{free_port()}",
        "ConfigurableHTTPProxy.pid_file": str(private / "proxy.pid"),
        "ConfigurableHTTPProxy.debug": False,
        "Authenticator.allowed_users": list(hub.students),
        "PAMAuthenticator.open_sessions": False,
        "Spawner.cmd": [str(VENV_BIN / "jupyterhub-singleuser")],
        "Spawner.default_url": "/lab",
        "Spawner.notebook_dir": "~",
        "Spawner.env_keep": ["LANG", "LC_ALL"],
        "Spawner.environment": {
            "PATH": f"{VENV_BIN}:/usr/local/bin:/usr/bin:/bin",
            "JUPYTER_CONFIG_PATH": str(hub.student_config),
        },
        "Spawner.start_timeout": 180,
        "Spawner.http_timeout": 180,
        # An account for the course's own scripts (the tests): may reach the students'
        # servers, as an instructor's tools would.
        "JupyterHub.services": [{"name": "course-tools", "api_token": hub.api_token}],
        "JupyterHub.load_roles": [{
            "name": "course-tools", "services": ["course-tools"],
            "scopes": ["admin:users", "admin:servers", "access:servers"],
        }],
    }
    lines = ["# Written by dustcourse.hub (docs/hub.md); rewritten at every start.",
             "c = get_config()  # noqa: F821"]
    lines += [f"c.{key} = {value!r}" for key, value in settings.items()]
    return "\n".join(lines) + "\n"


def configure(runtime: Path, exchange: Path = EXCHANGE, port: int = 8000,
              students: tuple[str, ...] = HUB_STUDENTS,
              owner: tuple[int, int] = (0, 0)) -> Hub:
    """Check the accounts, prepare the exchange and write the hub's files in ``runtime``."""
    check_accounts(students)
    hub = Hub(runtime=runtime, exchange=exchange, course_id=course_id(), port=port,
              students=students)
    (runtime / "private").mkdir(parents=True, exist_ok=True)
    os.chmod(runtime, 0o755)
    os.chmod(runtime / "private", 0o700)
    prepare_exchange(exchange, hub.course_id, owner)
    write_student_config(hub.student_config, exchange, hub.course_id)
    (runtime / "private" / "jupyterhub_config.py").write_text(hub_config(hub))
    return hub


def start_hub(hub: Hub, timeout: float = 120) -> Hub:
    """Start JupyterHub (and its proxy) in the background; return once it answers."""
    env = {"PATH": f"{VENV_BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}",
           "LANG": os.environ.get("LANG", "C.UTF-8"), "HOME": str(hub.runtime / "private")}
    with hub.log.open("w") as out:
        hub.process = subprocess.Popen(
            [str(VENV_BIN / "jupyterhub"), "-f", str(hub.runtime / "private" /
                                                     "jupyterhub_config.py")],
            cwd=hub.runtime / "private", env=env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True)
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"{hub.url}/hub/api/", timeout=5):
                return hub
        except OSError:
            if hub.process.poll() is not None or time.monotonic() > deadline:
                stop_hub(hub)
                tail = hub.log.read_text()[-3000:]
                raise HubError(f"JupyterHub did not start:\n{tail}") from None
            time.sleep(0.25)


def stop_hub(hub: Hub) -> None:
    """Stop the hub; it stops the students' servers and its proxy as it goes."""
    if hub.process is None or hub.process.poll() is not None:
        return
    hub.process.terminate()
    try:
        hub.process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        hub.process.kill()
        hub.process.wait()
