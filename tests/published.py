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
    },
    "gpt2": {
        "num_params": 124_439_808,
        "source": "keras-team/keras-hub keras_hub/src/models/gpt2/gpt2_presets.py, "
                  "\"gpt2_base_en\" \"params\" (the sizes of gpt2_medium_en, gpt2_large_en "
                  "and gpt2_extra_large_en in GPT2_SIZES)",
    },
    "t5-small": {
        "num_params": 60_506_624,
        "source": "KerasNLP keras_nlp/models/t5/t5_presets.py (the mattdangerw/keras-hub "
                  "copy of its history, commit 0df99da), \"t5_small\" \"params\"",
    },
}

# GPT-2's other published sizes, the same source's presets: (n_layer, d_model, n_head) →
# parameters.
GPT2_SIZES = {
    "gpt2_medium_en": ((24, 1024, 16), 354_823_168),
    "gpt2_large_en": ((36, 1280, 20), 774_030_080),
    "gpt2_extra_large_en": ((48, 1600, 25), 1_557_611_200),
}

# nanoGPT's transformer_sizing.ipynb (karpathy/nanoGPT, commit 0bb96d3), GPT-2 small with
# bias=False at block_size 1024: params() "total" and flops() "forward_total", and its
# per-part forward FLOPs of one block.
NANOGPT = {
    "params": 124_337_664,
    "forward_flops": 291_648_307_200,
    "block_flops": {"attention/kqv": 3_623_878_656, "attention/scores": 1_610_612_736,
                    "attention/reduce": 1_610_612_736, "attention/proj": 1_207_959_552,
                    "mlp/ffw1": 4_831_838_208, "mlp/ffw2": 4_831_838_208},
    "dense_flops": 79_047_426_048,
}

# torchvision's vision transformers: the IMAGENET1K_V1 weights' meta in pytorch/vision
# torchvision/models/vision_transformer.py (ViT_*_Weights), "num_params" and "_ops" to three
# decimals (releases before the three-decimal figures printed 17.6, 4.4, 61.6). Their "_ops"
# counts attention's two matrix products (Q·Kᵀ, A·V) with the conv and linear layers.
TORCHVISION_VIT = {
    "vit_b_16": {
        "num_params": 86_567_656, "gflops": 17.564,
        "source": "torchvision/models/vision_transformer.py, ViT_B_16_Weights.IMAGENET1K_V1",
    },
    "vit_b_32": {
        "num_params": 88_224_232, "gflops": 4.409,
        "source": "torchvision/models/vision_transformer.py, ViT_B_32_Weights.IMAGENET1K_V1",
    },
    "vit_l_16": {
        "num_params": 304_326_632, "gflops": 61.555,
        "source": "torchvision/models/vision_transformer.py, ViT_L_16_Weights.IMAGENET1K_V1",
    },
}


# BERT as Hugging Face transformers builds it (BertModel, models/bert/modeling_bert.py, with
# the pooler): sum(p.numel() for p in BertModel.from_pretrained(NAME).parameters()), the
# figure users of bert-base-uncased and bert-large-uncased print (Devlin et al. 2019,
# arXiv:1810.04805, Section 3, round them to 110M and 340M). ``set``: the spec's symbols for
# the configuration (bert-large: config.json num_hidden_layers 24, hidden_size 1024,
# num_attention_heads 16, intermediate_size 4096).
BERT = {
    "bert-base-uncased": {
        "num_params": 109_482_240, "set": {},
        "source": "transformers BertModel, bert-base-uncased (vocab 30522, 512 positions, "
                  "2 token types, 12 layers, 768 hidden, 12 heads, FFN 3072)",
    },
    "bert-large-uncased": {
        "num_params": 335_141_888,
        "set": {"layers": 24, "hidden": 1024, "heads": 16, "ffn": 4096},
        "source": "transformers BertModel, bert-large-uncased (24 layers, 1024 hidden, "
                  "16 heads, FFN 4096)",
    },
}
