from tests.support.registry_fixtures import *  # noqa: F403
