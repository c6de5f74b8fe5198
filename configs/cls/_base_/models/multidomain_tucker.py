# Multi-domain ResNet (3 stages of 2 identical blocks), each stage one Tucker tensor with a
# shared core; child configs list the domains seen so far.
model = dict(
    type='MultiDomainClassifier',
    network=dict(type='LatentTuckerResNet', layers=(2, 2, 2), widths=(16, 32, 64), rank=1.0),
    domains=[dict(name='digits', num_classes=10)],
    data_preprocessor=dict(type='ClsDataPreprocessor', mean=(127.5, ) * 3, std=(127.5, ) * 3))
