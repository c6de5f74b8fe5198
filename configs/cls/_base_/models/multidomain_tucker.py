# Multi-domain ResNet (3 stages of 2 identical blocks), each stage one Tucker tensor with a
# shared core; child configs list the domains seen so far. Layout of ResNet-26 (the paper's
# network): each stage's first block downsamples (stride 2, parameter-free pooled shortcut);
# layout='transition' gives the earlier layout with plain transition convs between stages.
model = dict(
    type='MultiDomainClassifier',
    network=dict(type='LatentTuckerResNet', layers=(2, 2, 2), widths=(16, 32, 64), rank=1.0,
                 layout='resnet26'),
    domains=[dict(name='digits', num_classes=10)],
    data_preprocessor=dict(type='ClsDataPreprocessor', mean=(127.5, ) * 3, std=(127.5, ) * 3))
