# A timm entry point inside the mmengine classifier; small stem and width for tiny images.
# Child configs change `timm_model` (see plugins.cls.MODEL_NAMES) and nothing else.
model = dict(
    type='TimmClassifier',
    timm_model='real_resnet18',
    num_classes=10,
    timm_kwargs=dict(width=32, stem='small'),
    input_size=(3, 16, 16),  # resolves size-dependent scales (chw, rank1) at build time
    data_preprocessor=dict(type='ClsDataPreprocessor', mean=(127.5, ) * 3, std=(127.5, ) * 3))
