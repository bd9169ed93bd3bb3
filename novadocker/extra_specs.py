"""Flavor extra specs of the Docker driver, for Nova's API to validate
(entry point ``nova.api.extra_spec_validators``)."""

from nova.api.validation.extra_specs import base

PIDS_LIMIT = 'docker:pids_limit'


def register():
    return [base.ExtraSpecValidator(
        name=PIDS_LIMIT,
        description=(
            'The most processes and threads the container may have at once '
            '(overrides [docker] pids_limit; 0 or -1: no limit). Keeps a '
            'fork bomb in one instance from exhausting the host\'s PIDs.'),
        value={'type': int, 'min': -1},
    )]
