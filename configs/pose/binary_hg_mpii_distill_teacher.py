# The real-valued teacher of binary_hg_mpii_distill.py: the main job's hourglass with real HPM
# blocks (BN -> ReLU -> real 3x3 conv), same width, depth and stacks. Train it first:
#   python tools/train.py configs/pose/binary_hg_mpii_distill_teacher.py
# (writes work_dirs/binary_hg_mpii_distill_teacher/, which the distillation config reads).
_base_ = ['./binary_hg_mpii.py']

model = dict(backbone=dict(block=dict(_delete_=True, type='HPMBlock')))
