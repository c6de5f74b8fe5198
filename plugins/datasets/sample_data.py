"""Where the real sample images (MMPose's test data, ``shared/data/mmpose_tests``) live."""
import os
import os.path as osp

#: the repository root (the folder that holds ``plugins/``)
REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def sample_data_root() -> str:
    """The sample-data folder: ``$SAMPLE_DATA_ROOT`` if set, else ``../shared/data/mmpose_tests``
    beside the repository."""
    return os.environ.get('SAMPLE_DATA_ROOT',
                          osp.join(osp.dirname(REPO_ROOT), 'shared', 'data', 'mmpose_tests'))
