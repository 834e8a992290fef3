"""Published figures the zoo specs must reproduce, each with where it was published."""


# torchvision's mobile and modern CNNs: the IMAGENET1K_V1 weights' meta in each builder's
# module (pytorch/vision, torchvision/models/<module>.py): "num_params" (parameters()) and
# "_ops" (GFLOPS: multiply-accumulates of conv and linear layers at the 224x224 eval crop,
# bias excluded), published to three decimals.
TORCHVISION_MOBILE = {
    "mobilenet_v2": {
        "num_params": 3_504_872, "gflops": 0.301,
        "source": "torchvision/models/mobilenetv2.py, MobileNet_V2_Weights.IMAGENET1K_V1",
    },
    "mobilenet_v3_large": {
        "num_params": 5_483_032, "gflops": 0.217,
        "source": "torchvision/models/mobilenetv3.py, MobileNet_V3_Large_Weights.IMAGENET1K_V1",
    },
    "mobilenet_v3_small": {
        "num_params": 2_542_856, "gflops": 0.057,
        "source": "torchvision/models/mobilenetv3.py, MobileNet_V3_Small_Weights.IMAGENET1K_V1",
    },
    "shufflenet_v2_x1_0": {
        "num_params": 2_278_604, "gflops": 0.145,
        "source": "torchvision/models/shufflenetv2.py, ShuffleNet_V2_X1_0_Weights.IMAGENET1K_V1",
    },
    "mnasnet1_0": {
        "num_params": 4_383_312, "gflops": 0.314,
        "source": "torchvision/models/mnasnet.py, MNASNet1_0_Weights.IMAGENET1K_V1",
    },
    "efficientnet_b0": {
        "num_params": 5_288_548, "gflops": 0.386,
        "source": "torchvision/models/efficientnet.py, EfficientNet_B0_Weights.IMAGENET1K_V1",
    },
    "regnet_y_400mf": {
        "num_params": 4_344_144, "gflops": 0.402,
        "source": "torchvision/models/regnet.py, RegNet_Y_400MF_Weights.IMAGENET1K_V1",
    },
    "regnet_x_400mf": {
        "num_params": 5_495_976, "gflops": 0.414,
        "source": "torchvision/models/regnet.py, RegNet_X_400MF_Weights.IMAGENET1K_V1",
    },
    "convnext_tiny": {
        "num_params": 28_589_128, "gflops": 4.456,
        "source": "torchvision/models/convnext.py, ConvNeXt_Tiny_Weights.IMAGENET1K_V1",
    },
}

# Keras's applications table ("Parameters" column of keras.io/applications in Keras 2.x;
# today's keras.io/api/applications rounds it to 3.5M), which is model.summary()'s total:
# BatchNormalization moving mean and variance count as (non-trainable) parameters.
KERAS_MOBILE = {
    "mobilenet_v2": {"params": 3_538_984,
                     "source": "keras.io/applications (Keras 2.x table): MobileNetV2"},
}
