"""A large fleet for the rendering benchmarks: B upstream base tags and M managed images, written as
images.yaml + state/ through the real planner (no git needed: discovery results are synthesized)."""

from __future__ import annotations

import random
from pathlib import Path

from analyzer.config.loader import load_fleet
from analyzer.discovery.dockerfile import DockerfileAnalysis, StageFrom
from analyzer.discovery.reference import parse_reference
from analyzer.state.derive import Discovery, plan_state
from analyzer.state.store import save_states


def write_render_fleet(out: Path, bases: int, managed: int, seed: int = 7) -> Path:
    rng = random.Random(seed)
    upstream = [f"docker.io/library/base{i // 10:04d}:tag{i % 10}" for i in range(bases)]
    lines = ["defaults:", "  delay: 7d", "images:"]
    refs: list[str] = []
    for index in range(managed):
        ref = f"registry.example.com/team-{index % 200:03d}/svc-{index:05d}:main"
        refs.append(ref)
        delay = rng.choice(["7d", "7d", "7d", "10d", "14d"])
        lines += [f"  - name: svc-{index:05d}", f"    image: {ref}", f"    delay: {delay}", "    source:",
                  f"      repo: repos/team-{index % 200:03d}", f"      dockerfile: svc-{index:05d}/Dockerfile",
                  "    trigger:", f"      github: {{repository: example/team-{index % 200:03d}, "
                  f"workflow: build.yml, tokenSecret: gh-dispatch}}"]
    config = out / "images.yaml"
    out.mkdir(parents=True, exist_ok=True)
    config.write_text("\n".join(lines) + "\n")
    fleet = load_fleet(config)
    discoveries = {}
    for index, image in enumerate(fleet.managed()):
        # every base is used at least once; a fifth of the images build FROM an earlier managed image
        uses = [upstream[index % bases] if index < bases else rng.choice(upstream)]
        if index > 50 and rng.random() < 0.2:
            uses.append(refs[rng.randrange(index - 50, index)])
        stages = [StageFrom(name=None, source=parse_reference(u).normalized, raw=u, line=n + 1, ref=parse_reference(u))
                  for n, u in enumerate(uses)]
        discoveries[image.name] = Discovery(analysis=DockerfileAnalysis(syntax=None, stages=stages), commit="0" * 40)
    plan = plan_state(fleet, discoveries, {})
    save_states(out / "state", plan.states.values())
    return config
