# As lipnet_resnet18_bigru_lrw.py with a temporal convolutional network back-end reading the
# 512-d trunk features directly (no bottleneck, as in Martinez et al.'s TCN lip reader).
_base_ = ['./lipnet_resnet18_bigru_lrw.py']
model = dict(bottleneck=None,
             backend=dict(_delete_=True, type='tcn', channels=512, kernel_size=3,
                          dilations=(1, 2, 4, 8), dropout=0.2))
