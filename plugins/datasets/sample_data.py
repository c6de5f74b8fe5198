"""Where the real sample images (MMPose's test data, ``shared/data/mmpose_tests``) live.

A clone has no such folder; CI and the project's own machine have it beside the repository
(``../shared/data/mmpose_tests``). Two environment variables control it:

- ``SAMPLE_DATA_ROOT``: the folder (default ``../shared/data/mmpose_tests`` beside the
  repository);
- ``REQUIRE_SAMPLE_DATA=1``: code that needs the samples fails instead of skipping when they
  are missing (``.ci/run`` sets it).
"""
import os
import os.path as osp

#: the repository root (the folder that holds ``plugins/``)
REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
#: environment variable naming the sample-data folder
SAMPLE_DATA_ENV = 'SAMPLE_DATA_ROOT'
#: environment variable that makes missing samples an error (``1``) instead of a skip
REQUIRE_SAMPLE_DATA_ENV = 'REQUIRE_SAMPLE_DATA'


def sample_data_root() -> str:
    """The sample-data folder: ``$SAMPLE_DATA_ROOT`` if set, else ``../shared/data/mmpose_tests``
    beside the repository."""
    return os.environ.get(SAMPLE_DATA_ENV,
                          osp.join(osp.dirname(REPO_ROOT), 'shared', 'data', 'mmpose_tests'))


def sample_data_required() -> bool:
    """Whether ``$REQUIRE_SAMPLE_DATA`` asks for the samples to be present (``1``/``true``)."""
    return os.environ.get(REQUIRE_SAMPLE_DATA_ENV, '').strip().lower() in ('1', 'true', 'yes')


def missing_sample_message(path: str) -> str:
    """The explanation given when ``path`` (inside the sample folder) does not exist."""
    return (f'real-format sample data not found at {path} (MMPose\'s test data; set '
            f'{SAMPLE_DATA_ENV}=<folder holding mpii/, 300w/, aflw/, wflw/> or put it at '
            f'../shared/data/mmpose_tests beside the repository; {REQUIRE_SAMPLE_DATA_ENV}=1 '
            f'makes its absence an error)')
