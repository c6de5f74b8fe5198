# MPII keypoint metainfo (names, colours, flip pairs, skeleton, joint weights, sigmas): MMPose's
# own file, inherited from the installed package. MpiiDataset's default metainfo path is this
# one ('configs/_base_/datasets/mpii.py', MMPose's repository layout); the dataset configs
# name it by absolute path (metainfo=dict(from_file='{{ fileDirname }}/mpii.py')), so it is
# found from any working directory and MMPose does not warn that it fell back to its copy.
_base_ = ['mmpose::_base_/datasets/mpii.py']
