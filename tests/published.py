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


# torchvision's classic CNNs, same source and meaning as TORCHVISION_MOBILE: the IMAGENET1K_V1
# weights' meta in pytorch/vision torchvision/models/<module>.py. The eval crop is 224x224 except
# for inception_v3 (crop_size=299). Two figures need a note, explained in the spec headers:
# googlenet's num_params excludes its two training-only aux classifiers (dropped on loading), and
# inception_v3's num_params includes its AuxLogits head (kept on loading) while its _ops excludes
# it (the head never runs in eval mode).
TORCHVISION = {
    "alexnet": {
        "num_params": 61_100_840, "gflops": 0.714,
        "source": "torchvision/models/alexnet.py, AlexNet_Weights.IMAGENET1K_V1",
    },
    "vgg11": {
        "num_params": 132_863_336, "gflops": 7.609,
        "source": "torchvision/models/vgg.py, VGG11_Weights.IMAGENET1K_V1",
    },
    "vgg11_bn": {
        "num_params": 132_868_840, "gflops": 7.609,
        "source": "torchvision/models/vgg.py, VGG11_BN_Weights.IMAGENET1K_V1",
    },
    "vgg13": {
        "num_params": 133_047_848, "gflops": 11.308,
        "source": "torchvision/models/vgg.py, VGG13_Weights.IMAGENET1K_V1",
    },
    "vgg16": {
        "num_params": 138_357_544, "gflops": 15.47,
        "source": "torchvision/models/vgg.py, VGG16_Weights.IMAGENET1K_V1",
    },
    "vgg16_bn": {
        "num_params": 138_365_992, "gflops": 15.47,
        "source": "torchvision/models/vgg.py, VGG16_BN_Weights.IMAGENET1K_V1",
    },
    "vgg19": {
        "num_params": 143_667_240, "gflops": 19.632,
        "source": "torchvision/models/vgg.py, VGG19_Weights.IMAGENET1K_V1",
    },
    "resnet18": {
        "num_params": 11_689_512, "gflops": 1.814,
        "source": "torchvision/models/resnet.py, ResNet18_Weights.IMAGENET1K_V1",
    },
    "resnet34": {
        "num_params": 21_797_672, "gflops": 3.664,
        "source": "torchvision/models/resnet.py, ResNet34_Weights.IMAGENET1K_V1",
    },
    "resnet50": {
        "num_params": 25_557_032, "gflops": 4.089,
        "source": "torchvision/models/resnet.py, ResNet50_Weights.IMAGENET1K_V1",
    },
    "resnet101": {
        "num_params": 44_549_160, "gflops": 7.801,
        "source": "torchvision/models/resnet.py, ResNet101_Weights.IMAGENET1K_V1",
    },
    "resnet152": {
        "num_params": 60_192_808, "gflops": 11.514,
        "source": "torchvision/models/resnet.py, ResNet152_Weights.IMAGENET1K_V1",
    },
    "resnext50_32x4d": {
        "num_params": 25_028_904, "gflops": 4.23,
        "source": "torchvision/models/resnet.py, ResNeXt50_32X4D_Weights.IMAGENET1K_V1",
    },
    "wide_resnet50_2": {
        "num_params": 68_883_240, "gflops": 11.398,
        "source": "torchvision/models/resnet.py, Wide_ResNet50_2_Weights.IMAGENET1K_V1",
    },
    "googlenet": {
        "num_params": 6_624_904, "gflops": 1.498,
        "source": "torchvision/models/googlenet.py, GoogLeNet_Weights.IMAGENET1K_V1",
    },
    "inception_v3": {
        "num_params": 27_161_264, "gflops": 5.713,
        "source": "torchvision/models/inception.py, Inception_V3_Weights.IMAGENET1K_V1",
    },
    "densenet121": {
        "num_params": 7_978_856, "gflops": 2.834,
        "source": "torchvision/models/densenet.py, DenseNet121_Weights.IMAGENET1K_V1",
    },
    "densenet161": {
        "num_params": 28_681_000, "gflops": 7.728,
        "source": "torchvision/models/densenet.py, DenseNet161_Weights.IMAGENET1K_V1",
    },
    "densenet169": {
        "num_params": 14_149_480, "gflops": 3.36,
        "source": "torchvision/models/densenet.py, DenseNet169_Weights.IMAGENET1K_V1",
    },
    "densenet201": {
        "num_params": 20_013_928, "gflops": 4.291,
        "source": "torchvision/models/densenet.py, DenseNet201_Weights.IMAGENET1K_V1",
    },
    "squeezenet1_0": {
        "num_params": 1_248_424, "gflops": 0.819,
        "source": "torchvision/models/squeezenet.py, SqueezeNet1_0_Weights.IMAGENET1K_V1",
    },
    "squeezenet1_1": {
        "num_params": 1_235_496, "gflops": 0.349,
        "source": "torchvision/models/squeezenet.py, SqueezeNet1_1_Weights.IMAGENET1K_V1",
    },
}

# Keras's applications table ("Parameters" column of keras.io/applications in Keras 2.x;
# today's keras.io/api/applications rounds it to 3.5M), which is model.summary()'s total:
# BatchNormalization moving mean and variance count as (non-trainable) parameters.
KERAS_MOBILE = {
    "mobilenet_v2": {"params": 3_538_984,
                     "source": "keras.io/applications (Keras 2.x table): MobileNetV2"},
}

# torchvision's attention networks, same source and meaning as TORCHVISION_MOBILE: the
# IMAGENET1K_V1 weights' meta in pytorch/vision torchvision/models/<module>.py. For these
# "_ops" counts the matrix products of the attention too: torchvision measures it with its
# FlopCounterMode (test/common_extended_utils.py, get_ops), which counts mm, addmm, bmm and
# convolution, one per multiply-accumulate, and torch.einsum runs as bmm.
TORCHVISION_TRANSFORMERS = {
    "maxvit_t": {
        "num_params": 30_919_624, "gflops": 5.558,
        "source": "torchvision/models/maxvit.py, MaxVit_T_Weights.IMAGENET1K_V1",
    },
    "swin_t": {
        "num_params": 28_288_354, "gflops": 4.491,
        "source": "torchvision/models/swin_transformer.py, Swin_T_Weights.IMAGENET1K_V1",
    },
}

# Transformer language models: the parameter count (parameters() of the Hugging Face model
# with the published configuration) that KerasNLP / KerasHub list in each preset's metadata
# ("params"), with the preset file as stored in the repository named.
TRANSFORMERS = {
    "llama-7b": {
        "num_params": 6_738_415_616,
        "source": "keras-team/keras-hub keras_nlp/models/llama/llama_presets.py (commit "
                  "ec00c02), \"llama_7b_en\" \"params\"",
    },
    "mistral-7b": {
        "num_params": 7_241_732_096,
        "source": "keras-team/keras-hub keras_hub/src/models/mistral/mistral_presets.py "
                  "(commit 0e1444f), \"mistral_7b_en\" \"params\"",
    },    "t5-small": {
        "num_params": 60_506_624,
        "source": "KerasNLP keras_nlp/models/t5/t5_presets.py (the mattdangerw/keras-hub "
                  "copy of its history, commit 0df99da), \"t5_small\" \"params\"",
    },
}
