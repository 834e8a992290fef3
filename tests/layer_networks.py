"""Small fixed networks that together use every registered layer type (checked in
tests/test_differential_nets.py): verified against PyTorch there, and walked layer by layer
for formulas and zero reasons in tests/test_explain.py."""

# Each network exercises a group of layer types; together they use every registered type.
NETWORKS = {
    "keras_same_and_pads": """
        input: [4, 17, 15]
        layers:
          - conv2d: {out: 6, kernel: 3, stride: 2, padding: same}     # Keras: pads (0,1)/(1,1)
          - batchnorm2d
          - relu
          - maxpool2d: {kernel: 3, stride: 2, padding: same}          # −inf padding
          - avgpool2d: {kernel: 2, stride: 1, padding: same}          # pads left out of mean
          - zeropad: {padding: [[1, 2], [0, 3]]}
          - conv2d: {out: 6, kernel: [3, 2], dilation: [1, 2], padding: [1, 0], groups: 2,
                     padding_mode: reflect}
          - conv2d: {out: 6, kernel: 4, padding: same}                # torch's own 'same'
          - conv2d: {out: 3, kernel: 2, stride: 3, padding: valid}
          - crop: {size: [1, 2]}
    """,
    "norms_and_activations": """
        input: [6, 9, 8]
        layers:
          - layernorm2d
          - gelu: {approximate: tanh}
          - layerscale: {init: 0.5}
          - stochasticdepth: {p: 0.2}
          - prelu: {num: 6}
          - instancenorm2d: {affine: true, track_running_stats: true}
          - groupnorm: {groups: 3}
          - lrn: {size: 3}
          - relu6
          - silu
          - sigmoid
          - tanh
          - hardswish
          - hardsigmoid
          - mish
          - elu: {alpha: 0.5}
          - leakyrelu: {slope: 0.2}
          - softplus
          - hardtanh: {min: -2.0, max: 2.0}
          - dropout2d: {p: 0.3}
          - layernorm: {shape: [9, 8]}
          - rmsnorm: {shape: [9, 8]}
          - rmsnorm: {affine: false}
          - softmax: {dim: 1}
          - logsoftmax
    """,
    "condensed": """
        input: [8, 7, 7]
        layers:
          - learnedgroupconv: {out: 12, groups: 4, condense_factor: 2}
          - indexchannels: {count: 10}
          - learnedgroupconv: {out: 6, kernel: 3, stride: 2, padding: 1, groups: 2,
                               condense_factor: 5, phase: train}
    """,
    "channels_and_shuffles": """
        input: [12, 6, 6]
        layers:
          - channelshuffle: {groups: 3}
          - slice: {start: 2, stop: -2}
          - padchannels: {before: 1, after: 3}
          - pixelshuffle: {factor: 2}
          - pixelunshuffle: {factor: 3}
          - slice: {dim: 2, start: 1}
          - convtranspose2d: {out: 6, kernel: 3, stride: 2, padding: 1, output_padding: 1,
                              groups: 3}
          - upsample: {scale: 1.5}
          - upsample: {size: [7, 5], mode: bilinear}
          - adaptivemaxpool2d: {out: [3, null]}
          - adaptiveavgpool2d: {out: 2}
          - permute: {dims: [1, 2, 0]}
          - linear: {out: 5}
          - reshape: {shape: [5, -1]}
          - flatten
          - dropout: {p: 0.5}
          - linear: {out: 3, bias: false}
    """,
    "attention": """
        input: [6, 16]
        layers:
          - linear: {name: tokens, out: 24}
          - layernorm
          - multiheadattention: {heads: 4}                            # self-attention
          - add: {with: [tokens]}
          - slice: {stop: 4}
          - linear: {name: memory, out: 10}
          - multiheadattention: {from: tokens, heads: 3, kv: memory, kdim: 10, vdim: 10,
                                 add_bias_kv: true, bias: false}      # cross-attention
          - linear: {out: 5}
    """,
    "general_attention": """
        input: [3, 8, 8]
        layers:
          - conv2d: {out: 16, kernel: 2, stride: 2}                    # [16, 4, 4]
          - permute: {dims: [1, 2, 0]}                                 # 4 rows of 4 tokens
          - rmsnorm: {name: tokens}
          - attention: {heads: 4, kv_heads: 2, causal: true, rotary: true, bias_table: 7,
                        bias: false}                                   # grouped-query
          - add: {with: [tokens]}
          - linear: {name: memory, out: 10}
          - attention: {from: tokens, heads: 2, head_dim: 5, kv: memory, out: 12,
                        o_bias: false, scale: 1.0}                     # cross-attention
          - attention: {heads: 3, kv_heads: 1, head_dim: 2, q_bias: false}  # multi-query
    """,
    "embeddings": """
        input: [2, 9]                                                 # token ids
        layers:
          - embedding: {name: words, vocab: 50, dim: 12, padding_idx: -1}
          - embedding: {name: types, from: input, vocab: 2, dim: 12}  # ids read modulo 2
          - add: {from: words, with: [types]}
          - layernorm: {name: final}
          - linear: {name: head, out: 50, bias: false, tie: words}     # counted at words
          - linear: {from: final, out: 50, tie: head}                  # the same weight again
    """,
    "learned_tensors": """
        input: [3, 16, 16]
        layers:
          - conv2d: {out: 8, kernel: 4, stride: 4}
          - parameter: {shape: [8, 1, 4], op: concat, dim: 1}        # a row put first
          - parameter: {shape: [8, 5, 4], op: add, init: normal}
          - parameter: {shape: [4], op: mul}                          # broadcast
          - parameter: {shape: [8, 5, 1], op: concat, dim: 2, position: after}
          - parameter: {shape: [8, 20, 5], op: add, rows: prefix, dim: 1}
          - flatten: {start: 1}
          - permute: {dims: [1, 0]}
          - parameter: {shape: [1, 8], op: concat}                    # a class token
          - parameter: {shape: [50, 8], op: add, rows: prefix}        # positions 0..25
    """,
    "windows": """
        input: [6, 14, 12]
        layers:
          - permute: {dims: [1, 2, 0]}                               # [H, W, C]
          - roll: {name: shifted, shifts: [-3, 2], dims: [0, -2]}
          - windowpartition: {name: windows, size: [7, 4]}            # [6, 28, 6]
          - linear: {name: q, out: 8}
          - linear: {name: k, from: windows, out: 8}
          - matmul: {from: q, with: k, transpose: true}               # [6, 28, 28]
          - softmax: {dim: -1}
          - einsum: {equation: "wts,wsc->wtc", with: [windows]}       # [6, 28, 6]
          - windowmerge: {size: [7, 4], height: 14, width: 12}
          - roll: {shifts: [3, -2], dims: [0, 1]}
          - windowpartition: {name: grid, size: [2, 3], grid: true}   # [28, 6, 6]
          - linear: {name: values, out: 6}
          - einsum: {from: grid, equation: "gtc, gtc -> gtc", with: [values]}  # element-wise
          - windowmerge: {size: [2, 3], height: 14, width: 12, grid: true}
          - linear: {name: pooled, out: 5}
          - einsum: {equation: "hwc,hwd", from: windowmerge_2, with: [pooled]}  # implicit: cd
          - roll: {shifts: 5}
    """,
    "branches_and_merges": """
        input: [3, 16, 16]
        layers:
          - conv2d: {name: stem, out: 8, kernel: 3, padding: 1}
          - branches:
              - [conv2d: {out: 4, kernel: 1}]
              - [conv2d: {out: 4, kernel: 5, padding: 2, bias: false}, batchnorm2d]
              - [maxpool2d: {kernel: 3, stride: 1, padding: 1}]
            merge: concat
          - globalavgpool: {name: gap, from: stem}
          - reshape: {shape: [8, 1, 1]}
          - sigmoid: {name: gate}
          - mul: {from: stem, with: gate}                 # squeeze-and-excitation style
          - add: {name: gated, with: stem}                # residual around the gate
          - globalmaxpool: {from: stem}
          - concat: {from: gated, with: [stem], dim: 1}   # along H
    """,
    "opaque": """
        input: [3, 16, 16]
        layers:
          - conv2d: {name: stem, out: 8, kernel: 3, padding: 1}
          - globalmaxpool
          - unknown: {shape: [5, 7], op: "an op archcalc cannot model", params: 12,
                      with: [stem]}                   # declared shape, stated params
    """,
    "one_d": """
        input: [3, 40]
        layers:
          - conv1d: {out: 4, kernel: 4, stride: 3, padding: same}
          - batchnorm1d: {track_running_stats: false}
          - maxpool1d: {kernel: 3, stride: 2, padding: 1, ceil_mode: true, dilation: 2}
          - avgpool1d: {kernel: 2, ceil_mode: true, count_include_pad: false}
          - instancenorm1d
          - dropout1d: {p: 0.1}
          - convtranspose1d: {out: 2, kernel: 3, stride: 1, dilation: 2, output_padding: 1}
          - adaptiveavgpool1d: {out: 4}
          - adaptivemaxpool1d: {out: 3}
          - upsample: {scale: 2, mode: linear}
    """,
    "three_d": """
        input: [2, 7, 8, 9]
        layers:
          - conv3d: {out: 4, kernel: [3, 1, 2], stride: [1, 2, 2], padding: [1, 0, 1]}
          - batchnorm3d
          - maxpool3d: {kernel: 2, stride: 1, padding: 1}
          - avgpool3d: {kernel: 2, ceil_mode: true}
          - instancenorm3d
          - dropout3d
          - convtranspose3d: {out: 2, kernel: 2, stride: 2}
          - adaptivemaxpool3d: {out: [2, null, 3]}
          - adaptiveavgpool3d: {out: 1}
          - identity
    """,
}
