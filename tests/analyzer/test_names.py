from __future__ import annotations

from analyzer.names import dns_label, is_dns_label, ref_slug, unique_names, with_hash


def test_readable_names_for_docker_hub_and_other_registries() -> None:
    assert ref_slug("docker.io/library/python:3.12-slim") == "python-3-12-slim"
    assert ref_slug("docker.io/bitnami/redis:7.2") == "bitnami-redis-7-2"
    assert (
        ref_slug("gcr.io/distroless/static-debian12:nonroot") == "gcr-io-distroless-static-debian12-nonroot"
    )
    assert ref_slug("localhost:5000/team/app:v1") == "localhost-5000-team-app-v1"


def test_short_names_are_kept_as_they_are() -> None:
    assert dns_label("rebuild", "api") == "rebuild-api"
    assert dns_label("soak", "python-3-12-slim", "168h") == "soak-python-3-12-slim-168h"


def test_long_names_are_cut_with_a_stable_hash_suffix() -> None:
    long_image = "a-very-long-image-name-that-is-exactly-sixty-three-characters-xx"
    name = dns_label("rebuild", long_image)
    assert len(name) == 63 and is_dns_label(name)
    assert name.startswith("rebuild-a-very-long")
    assert name == dns_label("rebuild", long_image)  # deterministic
    other = dns_label("rebuild", long_image[:-1] + "y")
    assert other != name and len(other) == 63


def test_invalid_characters_are_replaced() -> None:
    assert dns_label("Soak", "Foo_Bar..baz", "1h30m") == "soak-foo-bar-baz-1h30m"
    assert is_dns_label(dns_label("---", "___"))


def test_colliding_candidates_get_hashes_of_their_keys_and_stay_unique() -> None:
    names = unique_names({"docker.io/x/a-b:1": "x-a-b-1", "docker.io/x/a:b-1": "x-a-b-1", "z": "z"})
    assert names["z"] == "z"
    assert names["docker.io/x/a-b:1"] != names["docker.io/x/a:b-1"]
    assert all(n.startswith("x-a-b-1-") for k, n in names.items() if k != "z")
    again = unique_names(
        dict(
            reversed(list({"docker.io/x/a-b:1": "x-a-b-1", "docker.io/x/a:b-1": "x-a-b-1", "z": "z"}.items()))
        )
    )
    assert again == names  # independent of order


def test_hashed_name_never_takes_another_keys_readable_name() -> None:
    taken = with_hash("n", "k1")
    names = unique_names({"k1": "n", "k2": "n", "k3": taken})
    assert len(set(names.values())) == 3
    assert all(is_dns_label(n) for n in names.values())


def test_a_recorded_name_is_kept_when_a_new_key_collides_with_it() -> None:
    before = unique_names({"docker.io/x/a-b:1": "x-a-b-1", "z": "z"})
    assert before == {"docker.io/x/a-b:1": "x-a-b-1", "z": "z"}
    candidates = {"docker.io/x/a-b:1": "x-a-b-1", "docker.io/x/a:b-1": "x-a-b-1", "z": "z"}
    after = unique_names(candidates, recorded=before)
    assert after["docker.io/x/a-b:1"] == "x-a-b-1" and after["z"] == "z"  # the existing ones keep their names
    assert after["docker.io/x/a:b-1"] == with_hash("x-a-b-1", "docker.io/x/a:b-1")
    # Without the record both are hashed (the old behaviour, still the rule between two new keys).
    assert unique_names(candidates)["docker.io/x/a-b:1"] != "x-a-b-1"


def test_recorded_names_of_gone_keys_or_invalid_or_clashing_ones_are_ignored() -> None:
    names = unique_names({"k1": "n1", "k2": "n2", "k3": "n3"},
                         recorded={"gone": "n1", "k1": "Not_A_Label", "k2": "same", "k3": "same"})
    assert names == {"k1": "n1", "k2": "n2", "k3": "n3"}
