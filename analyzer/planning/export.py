"""A plan as plain JSON-ready data (pure), for `plan --json`, dashboards and stack outputs."""

from __future__ import annotations

from datetime import datetime

from analyzer.config.durations import format_duration
from analyzer.planning.timeline import ASSUMED_DIGEST, Gate, GateDigest, ImagePlan, Plan, Rebuild


def iso(t: datetime | None) -> str | None:
    return t.isoformat().replace("+00:00", "Z") if t is not None else None


def _gate_digest(d: GateDigest) -> dict[str, object]:
    return {"digest": d.digest, "first_seen": iso(d.first_seen), "clears_at": iso(d.clears_at), "cleared": d.cleared}


def _gate(gate: Gate) -> dict[str, object]:
    return {"delay": gate.delay_text, "users": list(gate.users),
            "eligible": _gate_digest(gate.eligible) if gate.eligible else None,
            "held": [_gate_digest(d) for d in gate.held]}


def _rebuild(r: Rebuild) -> dict[str, object]:
    return {"step": r.step, "image": r.image, "at": iso(r.at), "onto": dict(r.onto), "changed": list(r.changed)}


def _image(i: ImagePlan) -> dict[str, object]:
    return {
        "name": i.name, "ref": i.ref, "delay": i.delay_text, "auto_rebuild": i.auto_rebuild,
        "parents": list(i.parents), "bases": list(i.externals), "closure": list(i.closure),
        "status": i.status, "reason": i.reason, "stale": i.stale, "stale_since": iso(i.stale_since),
        "last_built": iso(i.last_built), "built_on": dict(i.built_on), "newest_vetted": dict(i.newest_vetted),
        "last_failure": iso(i.last_failure),
        "next_rebuild": _rebuild(i.next_rebuild) if i.next_rebuild else None,
        "waits_longer": {ref: format_duration(d) for ref, d in sorted(i.waits_longer.items())},
    }


def what_if(plan: Plan) -> dict[str, object] | None:
    """For an `assume_update` plan: when each managed image would first be rebuilt onto the new digest."""
    if plan.assumed is None:
        return None
    base, at = plan.assumed
    firsts = {i.name: plan.first_onto(i.name, base, ASSUMED_DIGEST) for i in plan.images if base in i.closure}
    return {"base": base, "at": iso(at), "digest": ASSUMED_DIGEST,
            "rebuilds": {name: iso(r.at) if r else None for name, r in firsts.items()}}


def plan_as_dict(plan: Plan) -> dict[str, object]:
    out: dict[str, object] = {
        "at": iso(plan.at),
        "summary": plan.summary(),
        "bases": [{"ref": b.ref, "current": b.current, "dependents": list(b.dependents), "digests_seen": b.seen,
                   "gates": [_gate(g) for g in b.gates]} for b in plan.bases],
        "images": [_image(i) for i in plan.images],
        "cascade": [_rebuild(r) for r in plan.cascade],
    }
    if plan.assumed is not None:
        out["what_if"] = what_if(plan)
    return out
