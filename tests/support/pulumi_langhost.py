"""A stand-in for the `pulumi-language-python` plugin, for the real-CLI tests only.

Why it exists: the real plugin is the Go module github.com/pulumi/pulumi/sdk/python/cmd/pulumi-language-python/v3,
and the Go module proxy the machines use serves no version of it (every pseudo-version tried answers 403;
docs/pulumi.md lists them). Since CLI v3.22x the CLI runs Python programs *and* Python policy packs only
through that plugin (the `pulumi-analyzer-policy-python` shim is gone), so without it nothing Python runs.

What it does is what the real plugin does for `preview`/`up`, with the same pieces:
- `Run`: the project's virtualenv python (runtime option `virtualenv`, relative to the project root) runs the
  real `pulumi-language-python-exec` script of the sdk/v3 module (built into the `pulumi` engine) with the
  same arguments and the stack config in PULUMI_CONFIG / PULUMI_CONFIG_SECRET_KEYS. Exit code 32 means the
  program already reported its error (bail).
- `RunPlugin` (policy packs): the pack's virtualenv python runs `-u -m pulumi.policy ARGS PACK_DIR`.
- `GetRequiredPackages`: the resource plugins the virtualenv's packages declare in `pulumi-plugin.json`
  (pulumi_kubernetes → kubernetes 4.34.2), which the engine then looks for (PATH first).
Everything else (`pulumi install`, `pulumi new`, codegen, `about`) answers UNIMPLEMENTED.

Run as `python pulumi_langhost.py --exec PATH ENGINE_ADDRESS`; prints its port, as plugins do. It imports
only grpc and the pulumi SDK's protos, so it runs from any virtualenv that has the SDK.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import subprocess
import threading
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import empty_pb2, json_format
from pulumi.runtime.proto import language_pb2, language_pb2_grpc, plugin_pb2

VERSION = "0.1.0+image-factory-test-host"
BAIL_EXIT_CODE = 32  # pulumi-language-python-exec: "an error message was already displayed to the user"


def _options(info: Any) -> dict[str, Any]:
    return json_format.MessageToDict(info.options) if info.HasField("options") else {}


def _python(info: Any, base_env: dict[str, str] | None = None) -> tuple[str, dict[str, str]]:
    """The interpreter and environment for a program or pack: its virtualenv's, if the option names one."""
    env = dict(os.environ if base_env is None else base_env)
    virtualenv = _options(info).get("virtualenv")
    if not virtualenv:
        return "python3", env
    venv = Path(info.root_directory, virtualenv)
    python = venv / "bin" / "python"
    if not python.exists():
        raise FileNotFoundError(f"The 'virtualenv' option is set to {virtualenv!r}, but {venv} has no bin/python")
    env.pop("PYTHONHOME", None)
    env["VIRTUAL_ENV"] = str(venv)
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return str(python), env


class Host(language_pb2_grpc.LanguageRuntimeServicer):
    def __init__(self, engine_address: str, exec_script: str) -> None:
        self.engine_address = engine_address
        self.exec_script = exec_script

    def Handshake(self, request: Any, context: Any) -> Any:
        return language_pb2.LanguageHandshakeResponse()

    def GetPluginInfo(self, request: Any, context: Any) -> Any:
        return plugin_pb2.PluginInfo(version=VERSION)

    def GetRequiredPackages(self, request: Any, context: Any) -> Any:
        python, env = _python(request.info)
        script = ("import json, pathlib, site\n"
                  "print(json.dumps([json.loads(p.read_text()) for d in site.getsitepackages()\n"
                  "                  for p in sorted(pathlib.Path(d).glob('*/pulumi-plugin.json'))]))")
        out = subprocess.run([python, "-c", script], env=env, capture_output=True, text=True, check=True).stdout
        packages = [plugin_pb2.PackageDependency(name=p["name"], kind="resource", version=p.get("version", ""),
                                                 server=p.get("server", ""))
                    for p in json.loads(out) if p.get("resource")]
        return language_pb2.GetRequiredPackagesResponse(packages=packages)

    def Run(self, request: Any, context: Any) -> Any:
        info = request.info
        try:
            python, env = _python(info)
        except FileNotFoundError as exc:
            return language_pb2.RunResponse(error=str(exc))
        program = os.path.join(info.program_directory, info.entry_point or ".")
        args = [python, "-u", self.exec_script, "--monitor", request.monitor_address, "--engine",
                self.engine_address, "--project", request.project, "--stack", request.stack, "--pwd", request.pwd,
                "--dry_run", "true" if request.dryRun else "false", "--parallel", str(request.parallel),
                "--root_directory", info.root_directory]
        if request.organization:
            args += ["--organization", request.organization]
        args += [program, *request.args]
        env["PULUMI_CONFIG"] = json.dumps(dict(request.config))
        env["PULUMI_CONFIG_SECRET_KEYS"] = json.dumps(list(request.configSecretKeys))
        code = subprocess.run(args, env=env, cwd=request.pwd or None, check=False).returncode
        if code == 0:
            return language_pb2.RunResponse()
        if code == BAIL_EXIT_CODE:
            return language_pb2.RunResponse(bail=True)
        return language_pb2.RunResponse(error=f"Program exited with non-zero exit code: {code}")

    def RunPlugin(self, request: Any, context: Any) -> Iterator[Any]:
        info = request.info
        # The CLI sends the whole environment, the engine address as args and the pack as the program.
        python, env = _python(info, dict(entry.split("=", 1) for entry in request.env if "=" in entry))
        pack = os.path.join(info.program_directory, info.entry_point or ".")
        proc = subprocess.Popen([python, "-u", "-m", "pulumi.policy", *request.args, pack],
                                cwd=request.pwd or info.program_directory, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        chunks: queue.Queue[tuple[str, bytes]] = queue.Queue()

        def pump(name: str, stream: Any) -> None:
            for chunk in iter(lambda: stream.read1(65536), b""):
                chunks.put((name, chunk))
            chunks.put((name, b""))

        for name, stream in (("stdout", proc.stdout), ("stderr", proc.stderr)):
            threading.Thread(target=pump, args=(name, stream), daemon=True).start()
        open_streams = 2
        while open_streams:
            name, chunk = chunks.get()
            if not chunk:
                open_streams -= 1
                continue
            yield language_pb2.RunPluginResponse(**{name: chunk})
        yield language_pb2.RunPluginResponse(exitcode=proc.wait())

    def Cancel(self, request: Any, context: Any) -> Any:
        return empty_pb2.Empty()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--exec", dest="exec_script", required=True)
    parser.add_argument("engine_address")
    args, _ = parser.parse_known_args()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8),
                         options=[("grpc.max_receive_message_length", 400 * 1024 * 1024)])
    language_pb2_grpc.add_LanguageRuntimeServicer_to_server(  # type: ignore[no-untyped-call]
        Host(args.engine_address, args.exec_script), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print(port, flush=True)
    try:
        server.wait_for_termination()
    except KeyboardInterrupt:  # the CLI ends its plugins with SIGINT
        server.stop(0)


if __name__ == "__main__":
    main()
