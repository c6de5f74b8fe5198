# Binary ResNet-18 (Bi-Real layout) with the XNOR-Net++ rank-1 learned scale, ImageNet folders.
_base_ = ['./real_resnet18_imagenet_folder.py']
model = dict(timm_model='binary_resnet18_rank1')
