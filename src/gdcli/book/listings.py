"""The book's chapter 8, 9 and 10 MNIST listings, as little of them as reproduces their numbers,
and every line their notebooks printed (iamtrask/Grokking-Deep-Learning, the stored outputs).

The listings are the book's code, loops and all, only wrapped in functions that take the
images and the number of iterations and return the weights. The test loop the listings run
every 10 iterations only prints; it is run_test() here, and `after` (called after every
iteration with j and the weights) is where a caller runs it (scripts/bench.py times the
listings end to end so). `fixed=True` corrects relu2deriv to `output > 0`, nothing else
(chapter 10: the kernels' sign and the patches' positions, nothing else).
"""

import numpy as np

# ruff: noqa: B007  (the book's loop variables, kept as it names them)

# fmt: off

BOOK_CH8_LOG = """\
I:0 Train-Err:0.722 Train-Acc:0.537 Test-Err:0.601 Test-Acc:0.6488
I:10 Train-Err:0.312 Train-Acc:0.901 Test-Err:0.420 Test-Acc:0.8114
I:20 Train-Err:0.260 Train-Acc:0.93 Test-Err:0.414 Test-Acc:0.8111
I:30 Train-Err:0.232 Train-Acc:0.946 Test-Err:0.417 Test-Acc:0.8066
I:40 Train-Err:0.215 Train-Acc:0.956 Test-Err:0.426 Test-Acc:0.8019
I:50 Train-Err:0.204 Train-Acc:0.966 Test-Err:0.437 Test-Acc:0.7982
I:60 Train-Err:0.194 Train-Acc:0.967 Test-Err:0.448 Test-Acc:0.7921
I:70 Train-Err:0.186 Train-Acc:0.975 Test-Err:0.458 Test-Acc:0.7864
I:80 Train-Err:0.179 Train-Acc:0.979 Test-Err:0.466 Test-Acc:0.7817
I:90 Train-Err:0.172 Train-Acc:0.981 Test-Err:0.474 Test-Acc:0.7758
I:100 Train-Err:0.166 Train-Acc:0.984 Test-Err:0.482 Test-Acc:0.7706
I:110 Train-Err:0.161 Train-Acc:0.984 Test-Err:0.489 Test-Acc:0.7686
I:120 Train-Err:0.157 Train-Acc:0.986 Test-Err:0.496 Test-Acc:0.766
I:130 Train-Err:0.153 Train-Acc:0.99 Test-Err:0.502 Test-Acc:0.7622
I:140 Train-Err:0.149 Train-Acc:0.991 Test-Err:0.508 Test-Acc:0.758
I:150 Train-Err:0.145 Train-Acc:0.991 Test-Err:0.513 Test-Acc:0.7558
I:160 Train-Err:0.141 Train-Acc:0.992 Test-Err:0.518 Test-Acc:0.7553
I:170 Train-Err:0.138 Train-Acc:0.992 Test-Err:0.524 Test-Acc:0.751
I:180 Train-Err:0.135 Train-Acc:0.995 Test-Err:0.528 Test-Acc:0.7505
I:190 Train-Err:0.132 Train-Acc:0.995 Test-Err:0.533 Test-Acc:0.7482
I:200 Train-Err:0.130 Train-Acc:0.998 Test-Err:0.538 Test-Acc:0.7464
I:210 Train-Err:0.127 Train-Acc:0.998 Test-Err:0.544 Test-Acc:0.7446
I:220 Train-Err:0.125 Train-Acc:0.998 Test-Err:0.552 Test-Acc:0.7416
I:230 Train-Err:0.123 Train-Acc:0.998 Test-Err:0.560 Test-Acc:0.7372
I:240 Train-Err:0.121 Train-Acc:0.998 Test-Err:0.569 Test-Acc:0.7344
I:250 Train-Err:0.120 Train-Acc:0.999 Test-Err:0.577 Test-Acc:0.7316
I:260 Train-Err:0.118 Train-Acc:0.999 Test-Err:0.585 Test-Acc:0.729
I:270 Train-Err:0.117 Train-Acc:0.999 Test-Err:0.593 Test-Acc:0.7259
I:280 Train-Err:0.115 Train-Acc:0.999 Test-Err:0.600 Test-Acc:0.723
I:290 Train-Err:0.114 Train-Acc:0.999 Test-Err:0.607 Test-Acc:0.7196
I:300 Train-Err:0.113 Train-Acc:0.999 Test-Err:0.614 Test-Acc:0.7183
I:310 Train-Err:0.112 Train-Acc:0.999 Test-Err:0.622 Test-Acc:0.7165
I:320 Train-Err:0.111 Train-Acc:0.999 Test-Err:0.629 Test-Acc:0.7133
I:330 Train-Err:0.110 Train-Acc:0.999 Test-Err:0.637 Test-Acc:0.7125
I:340 Train-Err:0.109 Train-Acc:1.0 Test-Err:0.645 Test-Acc:0.71
I:349 Train-Err:0.108 Train-Acc:1.0 Test-Err:0.653 Test-Acc:0.7073
"""

BOOK_CH8_DROPOUT_LOG = """\
I:0 Test-Err:0.641 Test-Acc:0.6333 Train-Err:0.891 Train-Acc:0.413
I:10 Test-Err:0.458 Test-Acc:0.787 Train-Err:0.472 Train-Acc:0.764
I:20 Test-Err:0.415 Test-Acc:0.8133 Train-Err:0.430 Train-Acc:0.809
I:30 Test-Err:0.421 Test-Acc:0.8114 Train-Err:0.415 Train-Acc:0.811
I:40 Test-Err:0.419 Test-Acc:0.8112 Train-Err:0.413 Train-Acc:0.827
I:50 Test-Err:0.409 Test-Acc:0.8133 Train-Err:0.392 Train-Acc:0.836
I:60 Test-Err:0.412 Test-Acc:0.8236 Train-Err:0.402 Train-Acc:0.836
I:70 Test-Err:0.412 Test-Acc:0.8033 Train-Err:0.383 Train-Acc:0.857
I:80 Test-Err:0.410 Test-Acc:0.8054 Train-Err:0.386 Train-Acc:0.854
I:90 Test-Err:0.411 Test-Acc:0.8144 Train-Err:0.376 Train-Acc:0.868
I:100 Test-Err:0.411 Test-Acc:0.7903 Train-Err:0.369 Train-Acc:0.864
I:110 Test-Err:0.411 Test-Acc:0.8003 Train-Err:0.371 Train-Acc:0.868
I:120 Test-Err:0.402 Test-Acc:0.8046 Train-Err:0.353 Train-Acc:0.857
I:130 Test-Err:0.408 Test-Acc:0.8091 Train-Err:0.352 Train-Acc:0.867
I:140 Test-Err:0.405 Test-Acc:0.8083 Train-Err:0.355 Train-Acc:0.885
I:150 Test-Err:0.404 Test-Acc:0.8107 Train-Err:0.342 Train-Acc:0.883
I:160 Test-Err:0.399 Test-Acc:0.8146 Train-Err:0.361 Train-Acc:0.876
I:170 Test-Err:0.404 Test-Acc:0.8074 Train-Err:0.344 Train-Acc:0.889
I:180 Test-Err:0.399 Test-Acc:0.807 Train-Err:0.333 Train-Acc:0.892
I:190 Test-Err:0.407 Test-Acc:0.8066 Train-Err:0.335 Train-Acc:0.898
I:200 Test-Err:0.405 Test-Acc:0.8036 Train-Err:0.347 Train-Acc:0.893
I:210 Test-Err:0.405 Test-Acc:0.8034 Train-Err:0.336 Train-Acc:0.894
I:220 Test-Err:0.402 Test-Acc:0.8067 Train-Err:0.325 Train-Acc:0.896
I:230 Test-Err:0.404 Test-Acc:0.8091 Train-Err:0.321 Train-Acc:0.894
I:240 Test-Err:0.415 Test-Acc:0.8091 Train-Err:0.332 Train-Acc:0.898
I:250 Test-Err:0.395 Test-Acc:0.8182 Train-Err:0.320 Train-Acc:0.899
I:260 Test-Err:0.390 Test-Acc:0.8204 Train-Err:0.321 Train-Acc:0.899
I:270 Test-Err:0.382 Test-Acc:0.8194 Train-Err:0.312 Train-Acc:0.906
I:280 Test-Err:0.396 Test-Acc:0.8208 Train-Err:0.317 Train-Acc:0.9
I:290 Test-Err:0.399 Test-Acc:0.8181 Train-Err:0.301 Train-Acc:0.908
"""

BOOK_CH8_BATCH_LOG = """\
I:0 Test-Err:0.815 Test-Acc:0.3832 Train-Err:1.284 Train-Acc:0.165
I:10 Test-Err:0.568 Test-Acc:0.7173 Train-Err:0.591 Train-Acc:0.672
I:20 Test-Err:0.510 Test-Acc:0.7571 Train-Err:0.532 Train-Acc:0.729
I:30 Test-Err:0.485 Test-Acc:0.7793 Train-Err:0.498 Train-Acc:0.754
I:40 Test-Err:0.468 Test-Acc:0.7877 Train-Err:0.489 Train-Acc:0.749
I:50 Test-Err:0.458 Test-Acc:0.793 Train-Err:0.468 Train-Acc:0.775
I:60 Test-Err:0.452 Test-Acc:0.7995 Train-Err:0.452 Train-Acc:0.799
I:70 Test-Err:0.446 Test-Acc:0.803 Train-Err:0.453 Train-Acc:0.792
I:80 Test-Err:0.451 Test-Acc:0.7968 Train-Err:0.457 Train-Acc:0.786
I:90 Test-Err:0.447 Test-Acc:0.795 Train-Err:0.454 Train-Acc:0.799
I:100 Test-Err:0.448 Test-Acc:0.793 Train-Err:0.447 Train-Acc:0.796
I:110 Test-Err:0.441 Test-Acc:0.7943 Train-Err:0.426 Train-Acc:0.816
I:120 Test-Err:0.442 Test-Acc:0.7966 Train-Err:0.431 Train-Acc:0.813
I:130 Test-Err:0.441 Test-Acc:0.7906 Train-Err:0.434 Train-Acc:0.816
I:140 Test-Err:0.447 Test-Acc:0.7874 Train-Err:0.437 Train-Acc:0.822
I:150 Test-Err:0.443 Test-Acc:0.7899 Train-Err:0.414 Train-Acc:0.823
I:160 Test-Err:0.438 Test-Acc:0.797 Train-Err:0.427 Train-Acc:0.811
I:170 Test-Err:0.440 Test-Acc:0.7884 Train-Err:0.418 Train-Acc:0.828
I:180 Test-Err:0.436 Test-Acc:0.7935 Train-Err:0.407 Train-Acc:0.834
I:190 Test-Err:0.434 Test-Acc:0.7935 Train-Err:0.410 Train-Acc:0.831
I:200 Test-Err:0.435 Test-Acc:0.7972 Train-Err:0.416 Train-Acc:0.829
I:210 Test-Err:0.434 Test-Acc:0.7923 Train-Err:0.409 Train-Acc:0.83
I:220 Test-Err:0.433 Test-Acc:0.8032 Train-Err:0.396 Train-Acc:0.832
I:230 Test-Err:0.431 Test-Acc:0.8036 Train-Err:0.393 Train-Acc:0.853
I:240 Test-Err:0.430 Test-Acc:0.8047 Train-Err:0.397 Train-Acc:0.844
I:250 Test-Err:0.429 Test-Acc:0.8028 Train-Err:0.386 Train-Acc:0.843
I:260 Test-Err:0.431 Test-Acc:0.8038 Train-Err:0.394 Train-Acc:0.843
I:270 Test-Err:0.428 Test-Acc:0.8014 Train-Err:0.384 Train-Acc:0.845
I:280 Test-Err:0.430 Test-Acc:0.8067 Train-Err:0.401 Train-Acc:0.846
I:290 Test-Err:0.428 Test-Acc:0.7975 Train-Err:0.383 Train-Acc:0.851
"""

BOOK_CH9_LOG = """\
I:0 Test-Acc:0.394 Train-Acc:0.156
I:10 Test-Acc:0.6867 Train-Acc:0.723
I:20 Test-Acc:0.7025 Train-Acc:0.732
I:30 Test-Acc:0.734 Train-Acc:0.763
I:40 Test-Acc:0.7663 Train-Acc:0.794
I:50 Test-Acc:0.7913 Train-Acc:0.819
I:60 Test-Acc:0.8102 Train-Acc:0.849
I:70 Test-Acc:0.8228 Train-Acc:0.864
I:80 Test-Acc:0.831 Train-Acc:0.867
I:90 Test-Acc:0.8364 Train-Acc:0.885
I:100 Test-Acc:0.8407 Train-Acc:0.883
I:110 Test-Acc:0.845 Train-Acc:0.891
I:120 Test-Acc:0.8481 Train-Acc:0.901
I:130 Test-Acc:0.8505 Train-Acc:0.901
I:140 Test-Acc:0.8526 Train-Acc:0.905
I:150 Test-Acc:0.8555 Train-Acc:0.914
I:160 Test-Acc:0.8577 Train-Acc:0.925
I:170 Test-Acc:0.8596 Train-Acc:0.918
I:180 Test-Acc:0.8619 Train-Acc:0.933
I:190 Test-Acc:0.863 Train-Acc:0.933
I:200 Test-Acc:0.8642 Train-Acc:0.926
I:210 Test-Acc:0.8653 Train-Acc:0.931
I:220 Test-Acc:0.8668 Train-Acc:0.93
I:230 Test-Acc:0.8672 Train-Acc:0.937
I:240 Test-Acc:0.8681 Train-Acc:0.938
I:250 Test-Acc:0.8687 Train-Acc:0.937
I:260 Test-Acc:0.8684 Train-Acc:0.945
I:270 Test-Acc:0.8703 Train-Acc:0.951
I:280 Test-Acc:0.8699 Train-Acc:0.949
I:290 Test-Acc:0.8701 Train-Acc:0.94
"""

# Chapter 10 tests after every iteration: 300 lines.
BOOK_CH10_LOG = """\
I:0 Test-Acc:0.0288 Train-Acc:0.055
I:1 Test-Acc:0.0273 Train-Acc:0.037
I:2 Test-Acc:0.028 Train-Acc:0.037
I:3 Test-Acc:0.0292 Train-Acc:0.04
I:4 Test-Acc:0.0339 Train-Acc:0.046
I:5 Test-Acc:0.0478 Train-Acc:0.068
I:6 Test-Acc:0.076 Train-Acc:0.083
I:7 Test-Acc:0.1316 Train-Acc:0.096
I:8 Test-Acc:0.2137 Train-Acc:0.127
I:9 Test-Acc:0.2941 Train-Acc:0.148
I:10 Test-Acc:0.3563 Train-Acc:0.181
I:11 Test-Acc:0.4023 Train-Acc:0.209
I:12 Test-Acc:0.4358 Train-Acc:0.238
I:13 Test-Acc:0.4473 Train-Acc:0.286
I:14 Test-Acc:0.4389 Train-Acc:0.274
I:15 Test-Acc:0.3951 Train-Acc:0.257
I:16 Test-Acc:0.2222 Train-Acc:0.243
I:17 Test-Acc:0.0613 Train-Acc:0.112
I:18 Test-Acc:0.0266 Train-Acc:0.035
I:19 Test-Acc:0.0127 Train-Acc:0.026
I:20 Test-Acc:0.0133 Train-Acc:0.022
I:21 Test-Acc:0.0185 Train-Acc:0.038
I:22 Test-Acc:0.0363 Train-Acc:0.038
I:23 Test-Acc:0.0928 Train-Acc:0.067
I:24 Test-Acc:0.1994 Train-Acc:0.081
I:25 Test-Acc:0.3086 Train-Acc:0.154
I:26 Test-Acc:0.4276 Train-Acc:0.204
I:27 Test-Acc:0.5323 Train-Acc:0.256
I:28 Test-Acc:0.5919 Train-Acc:0.305
I:29 Test-Acc:0.6324 Train-Acc:0.341
I:30 Test-Acc:0.6608 Train-Acc:0.426
I:31 Test-Acc:0.6815 Train-Acc:0.439
I:32 Test-Acc:0.7048 Train-Acc:0.462
I:33 Test-Acc:0.7171 Train-Acc:0.484
I:34 Test-Acc:0.7313 Train-Acc:0.505
I:35 Test-Acc:0.7355 Train-Acc:0.53
I:36 Test-Acc:0.7417 Train-Acc:0.548
I:37 Test-Acc:0.747 Train-Acc:0.534
I:38 Test-Acc:0.7491 Train-Acc:0.55
I:39 Test-Acc:0.7459 Train-Acc:0.562
I:40 Test-Acc:0.7352 Train-Acc:0.54
I:41 Test-Acc:0.7082 Train-Acc:0.496
I:42 Test-Acc:0.6487 Train-Acc:0.456
I:43 Test-Acc:0.5209 Train-Acc:0.353
I:44 Test-Acc:0.3305 Train-Acc:0.234
I:45 Test-Acc:0.2052 Train-Acc:0.174
I:46 Test-Acc:0.2149 Train-Acc:0.136
I:47 Test-Acc:0.2679 Train-Acc:0.171
I:48 Test-Acc:0.3237 Train-Acc:0.172
I:49 Test-Acc:0.3581 Train-Acc:0.186
I:50 Test-Acc:0.4202 Train-Acc:0.21
I:51 Test-Acc:0.5165 Train-Acc:0.223
I:52 Test-Acc:0.6007 Train-Acc:0.262
I:53 Test-Acc:0.6476 Train-Acc:0.308
I:54 Test-Acc:0.676 Train-Acc:0.363
I:55 Test-Acc:0.696 Train-Acc:0.402
I:56 Test-Acc:0.7077 Train-Acc:0.434
I:57 Test-Acc:0.7204 Train-Acc:0.441
I:58 Test-Acc:0.7303 Train-Acc:0.475
I:59 Test-Acc:0.7359 Train-Acc:0.475
I:60 Test-Acc:0.7401 Train-Acc:0.525
I:61 Test-Acc:0.7493 Train-Acc:0.517
I:62 Test-Acc:0.7533 Train-Acc:0.517
I:63 Test-Acc:0.7606 Train-Acc:0.538
I:64 Test-Acc:0.7644 Train-Acc:0.554
I:65 Test-Acc:0.7724 Train-Acc:0.57
I:66 Test-Acc:0.7788 Train-Acc:0.586
I:67 Test-Acc:0.7855 Train-Acc:0.595
I:68 Test-Acc:0.7853 Train-Acc:0.591
I:69 Test-Acc:0.7925 Train-Acc:0.605
I:70 Test-Acc:0.7973 Train-Acc:0.64
I:71 Test-Acc:0.8013 Train-Acc:0.621
I:72 Test-Acc:0.8029 Train-Acc:0.626
I:73 Test-Acc:0.8092 Train-Acc:0.631
I:74 Test-Acc:0.8099 Train-Acc:0.638
I:75 Test-Acc:0.8156 Train-Acc:0.661
I:76 Test-Acc:0.8156 Train-Acc:0.639
I:77 Test-Acc:0.8184 Train-Acc:0.65
I:78 Test-Acc:0.8216 Train-Acc:0.67
I:79 Test-Acc:0.8246 Train-Acc:0.675
I:80 Test-Acc:0.8237 Train-Acc:0.666
I:81 Test-Acc:0.8273 Train-Acc:0.673
I:82 Test-Acc:0.8273 Train-Acc:0.704
I:83 Test-Acc:0.8314 Train-Acc:0.674
I:84 Test-Acc:0.8292 Train-Acc:0.686
I:85 Test-Acc:0.8335 Train-Acc:0.699
I:86 Test-Acc:0.8359 Train-Acc:0.694
I:87 Test-Acc:0.8375 Train-Acc:0.704
I:88 Test-Acc:0.8373 Train-Acc:0.697
I:89 Test-Acc:0.8398 Train-Acc:0.704
I:90 Test-Acc:0.8393 Train-Acc:0.687
I:91 Test-Acc:0.8436 Train-Acc:0.705
I:92 Test-Acc:0.8437 Train-Acc:0.711
I:93 Test-Acc:0.8446 Train-Acc:0.721
I:94 Test-Acc:0.845 Train-Acc:0.719
I:95 Test-Acc:0.8469 Train-Acc:0.724
I:96 Test-Acc:0.8476 Train-Acc:0.726
I:97 Test-Acc:0.848 Train-Acc:0.718
I:98 Test-Acc:0.8496 Train-Acc:0.719
I:99 Test-Acc:0.85 Train-Acc:0.73
I:100 Test-Acc:0.8511 Train-Acc:0.737
I:101 Test-Acc:0.8503 Train-Acc:0.73
I:102 Test-Acc:0.8504 Train-Acc:0.717
I:103 Test-Acc:0.8528 Train-Acc:0.74
I:104 Test-Acc:0.8532 Train-Acc:0.733
I:105 Test-Acc:0.8537 Train-Acc:0.73
I:106 Test-Acc:0.8568 Train-Acc:0.721
I:107 Test-Acc:0.857 Train-Acc:0.75
I:108 Test-Acc:0.8558 Train-Acc:0.731
I:109 Test-Acc:0.8578 Train-Acc:0.744
I:110 Test-Acc:0.8588 Train-Acc:0.754
I:111 Test-Acc:0.8579 Train-Acc:0.732
I:112 Test-Acc:0.8582 Train-Acc:0.747
I:113 Test-Acc:0.8593 Train-Acc:0.747
I:114 Test-Acc:0.8598 Train-Acc:0.751
I:115 Test-Acc:0.8603 Train-Acc:0.74
I:116 Test-Acc:0.86 Train-Acc:0.753
I:117 Test-Acc:0.8588 Train-Acc:0.746
I:118 Test-Acc:0.861 Train-Acc:0.741
I:119 Test-Acc:0.8616 Train-Acc:0.731
I:120 Test-Acc:0.8629 Train-Acc:0.753
I:121 Test-Acc:0.8609 Train-Acc:0.743
I:122 Test-Acc:0.8627 Train-Acc:0.752
I:123 Test-Acc:0.8646 Train-Acc:0.76
I:124 Test-Acc:0.8649 Train-Acc:0.766
I:125 Test-Acc:0.8659 Train-Acc:0.752
I:126 Test-Acc:0.868 Train-Acc:0.756
I:127 Test-Acc:0.8648 Train-Acc:0.767
I:128 Test-Acc:0.8662 Train-Acc:0.747
I:129 Test-Acc:0.8669 Train-Acc:0.753
I:130 Test-Acc:0.8694 Train-Acc:0.753
I:131 Test-Acc:0.8692 Train-Acc:0.76
I:132 Test-Acc:0.8658 Train-Acc:0.756
I:133 Test-Acc:0.8666 Train-Acc:0.769
I:134 Test-Acc:0.8692 Train-Acc:0.77
I:135 Test-Acc:0.8681 Train-Acc:0.757
I:136 Test-Acc:0.8705 Train-Acc:0.77
I:137 Test-Acc:0.8706 Train-Acc:0.77
I:138 Test-Acc:0.8684 Train-Acc:0.768
I:139 Test-Acc:0.8664 Train-Acc:0.774
I:140 Test-Acc:0.8666 Train-Acc:0.756
I:141 Test-Acc:0.8705 Train-Acc:0.783
I:142 Test-Acc:0.87 Train-Acc:0.775
I:143 Test-Acc:0.8729 Train-Acc:0.769
I:144 Test-Acc:0.8725 Train-Acc:0.776
I:145 Test-Acc:0.8721 Train-Acc:0.772
I:146 Test-Acc:0.8718 Train-Acc:0.765
I:147 Test-Acc:0.8746 Train-Acc:0.777
I:148 Test-Acc:0.8746 Train-Acc:0.77
I:149 Test-Acc:0.8734 Train-Acc:0.778
I:150 Test-Acc:0.873 Train-Acc:0.785
I:151 Test-Acc:0.8732 Train-Acc:0.76
I:152 Test-Acc:0.8727 Train-Acc:0.779
I:153 Test-Acc:0.8754 Train-Acc:0.772
I:154 Test-Acc:0.8729 Train-Acc:0.773
I:155 Test-Acc:0.8758 Train-Acc:0.784
I:156 Test-Acc:0.8732 Train-Acc:0.774
I:157 Test-Acc:0.8743 Train-Acc:0.782
I:158 Test-Acc:0.8762 Train-Acc:0.772
I:159 Test-Acc:0.8755 Train-Acc:0.79
I:160 Test-Acc:0.8751 Train-Acc:0.774
I:161 Test-Acc:0.8749 Train-Acc:0.782
I:162 Test-Acc:0.8744 Train-Acc:0.78
I:163 Test-Acc:0.8765 Train-Acc:0.782
I:164 Test-Acc:0.8738 Train-Acc:0.796
I:165 Test-Acc:0.8753 Train-Acc:0.798
I:166 Test-Acc:0.8767 Train-Acc:0.794
I:167 Test-Acc:0.8746 Train-Acc:0.784
I:168 Test-Acc:0.8769 Train-Acc:0.796
I:169 Test-Acc:0.8758 Train-Acc:0.789
I:170 Test-Acc:0.8764 Train-Acc:0.79
I:171 Test-Acc:0.873 Train-Acc:0.791
I:172 Test-Acc:0.8765 Train-Acc:0.797
I:173 Test-Acc:0.8772 Train-Acc:0.789
I:174 Test-Acc:0.8778 Train-Acc:0.781
I:175 Test-Acc:0.8758 Train-Acc:0.799
I:176 Test-Acc:0.8773 Train-Acc:0.785
I:177 Test-Acc:0.8766 Train-Acc:0.796
I:178 Test-Acc:0.8782 Train-Acc:0.803
I:179 Test-Acc:0.8789 Train-Acc:0.794
I:180 Test-Acc:0.8778 Train-Acc:0.794
I:181 Test-Acc:0.8778 Train-Acc:0.8
I:182 Test-Acc:0.8785 Train-Acc:0.791
I:183 Test-Acc:0.8777 Train-Acc:0.787
I:184 Test-Acc:0.8769 Train-Acc:0.781
I:185 Test-Acc:0.8765 Train-Acc:0.786
I:186 Test-Acc:0.8765 Train-Acc:0.793
I:187 Test-Acc:0.8785 Train-Acc:0.796
I:188 Test-Acc:0.879 Train-Acc:0.789
I:189 Test-Acc:0.8763 Train-Acc:0.79
I:190 Test-Acc:0.8774 Train-Acc:0.787
I:191 Test-Acc:0.8766 Train-Acc:0.782
I:192 Test-Acc:0.8803 Train-Acc:0.798
I:193 Test-Acc:0.8781 Train-Acc:0.789
I:194 Test-Acc:0.8795 Train-Acc:0.785
I:195 Test-Acc:0.8791 Train-Acc:0.807
I:196 Test-Acc:0.8778 Train-Acc:0.796
I:197 Test-Acc:0.8783 Train-Acc:0.801
I:198 Test-Acc:0.8778 Train-Acc:0.81
I:199 Test-Acc:0.8771 Train-Acc:0.784
I:200 Test-Acc:0.8776 Train-Acc:0.792
I:201 Test-Acc:0.8784 Train-Acc:0.794
I:202 Test-Acc:0.8787 Train-Acc:0.795
I:203 Test-Acc:0.8803 Train-Acc:0.781
I:204 Test-Acc:0.8798 Train-Acc:0.804
I:205 Test-Acc:0.8779 Train-Acc:0.779
I:206 Test-Acc:0.8788 Train-Acc:0.792
I:207 Test-Acc:0.8764 Train-Acc:0.793
I:208 Test-Acc:0.8792 Train-Acc:0.792
I:209 Test-Acc:0.8798 Train-Acc:0.803
I:210 Test-Acc:0.8788 Train-Acc:0.804
I:211 Test-Acc:0.8793 Train-Acc:0.797
I:212 Test-Acc:0.8764 Train-Acc:0.791
I:213 Test-Acc:0.8801 Train-Acc:0.801
I:214 Test-Acc:0.8814 Train-Acc:0.799
I:215 Test-Acc:0.8806 Train-Acc:0.79
I:216 Test-Acc:0.8799 Train-Acc:0.8
I:217 Test-Acc:0.8803 Train-Acc:0.802
I:218 Test-Acc:0.8782 Train-Acc:0.807
I:219 Test-Acc:0.8818 Train-Acc:0.797
I:220 Test-Acc:0.8793 Train-Acc:0.799
I:221 Test-Acc:0.8789 Train-Acc:0.815
I:222 Test-Acc:0.8791 Train-Acc:0.816
I:223 Test-Acc:0.8793 Train-Acc:0.809
I:224 Test-Acc:0.8814 Train-Acc:0.795
I:225 Test-Acc:0.8798 Train-Acc:0.799
I:226 Test-Acc:0.8805 Train-Acc:0.806
I:227 Test-Acc:0.88 Train-Acc:0.808
I:228 Test-Acc:0.8782 Train-Acc:0.801
I:229 Test-Acc:0.8802 Train-Acc:0.814
I:230 Test-Acc:0.8807 Train-Acc:0.8
I:231 Test-Acc:0.8809 Train-Acc:0.798
I:232 Test-Acc:0.8805 Train-Acc:0.82
I:233 Test-Acc:0.8795 Train-Acc:0.794
I:234 Test-Acc:0.8807 Train-Acc:0.806
I:235 Test-Acc:0.8806 Train-Acc:0.808
I:236 Test-Acc:0.8787 Train-Acc:0.802
I:237 Test-Acc:0.8796 Train-Acc:0.81
I:238 Test-Acc:0.8766 Train-Acc:0.805
I:239 Test-Acc:0.8781 Train-Acc:0.792
I:240 Test-Acc:0.8787 Train-Acc:0.809
I:241 Test-Acc:0.8762 Train-Acc:0.802
I:242 Test-Acc:0.8775 Train-Acc:0.811
I:243 Test-Acc:0.8804 Train-Acc:0.814
I:244 Test-Acc:0.8794 Train-Acc:0.804
I:245 Test-Acc:0.8788 Train-Acc:0.801
I:246 Test-Acc:0.8777 Train-Acc:0.795
I:247 Test-Acc:0.8785 Train-Acc:0.808
I:248 Test-Acc:0.8788 Train-Acc:0.803
I:249 Test-Acc:0.8773 Train-Acc:0.813
I:250 Test-Acc:0.8786 Train-Acc:0.808
I:251 Test-Acc:0.8787 Train-Acc:0.803
I:252 Test-Acc:0.8789 Train-Acc:0.812
I:253 Test-Acc:0.8792 Train-Acc:0.804
I:254 Test-Acc:0.8779 Train-Acc:0.815
I:255 Test-Acc:0.8796 Train-Acc:0.811
I:256 Test-Acc:0.8798 Train-Acc:0.806
I:257 Test-Acc:0.88 Train-Acc:0.803
I:258 Test-Acc:0.8776 Train-Acc:0.795
I:259 Test-Acc:0.8798 Train-Acc:0.803
I:260 Test-Acc:0.8799 Train-Acc:0.805
I:261 Test-Acc:0.8789 Train-Acc:0.807
I:262 Test-Acc:0.8784 Train-Acc:0.804
I:263 Test-Acc:0.8792 Train-Acc:0.806
I:264 Test-Acc:0.8777 Train-Acc:0.796
I:265 Test-Acc:0.8785 Train-Acc:0.821
I:266 Test-Acc:0.8794 Train-Acc:0.81
I:267 Test-Acc:0.8783 Train-Acc:0.816
I:268 Test-Acc:0.8777 Train-Acc:0.812
I:269 Test-Acc:0.8791 Train-Acc:0.812
I:270 Test-Acc:0.878 Train-Acc:0.813
I:271 Test-Acc:0.8784 Train-Acc:0.82
I:272 Test-Acc:0.8792 Train-Acc:0.821
I:273 Test-Acc:0.8781 Train-Acc:0.823
I:274 Test-Acc:0.8788 Train-Acc:0.816
I:275 Test-Acc:0.8793 Train-Acc:0.82
I:276 Test-Acc:0.8781 Train-Acc:0.829
I:277 Test-Acc:0.8795 Train-Acc:0.809
I:278 Test-Acc:0.875 Train-Acc:0.806
I:279 Test-Acc:0.8795 Train-Acc:0.813
I:280 Test-Acc:0.88 Train-Acc:0.816
I:281 Test-Acc:0.8796 Train-Acc:0.819
I:282 Test-Acc:0.8802 Train-Acc:0.809
I:283 Test-Acc:0.8804 Train-Acc:0.811
I:284 Test-Acc:0.8779 Train-Acc:0.808
I:285 Test-Acc:0.8816 Train-Acc:0.82
I:286 Test-Acc:0.8792 Train-Acc:0.822
I:287 Test-Acc:0.8791 Train-Acc:0.817
I:288 Test-Acc:0.8769 Train-Acc:0.814
I:289 Test-Acc:0.8785 Train-Acc:0.807
I:290 Test-Acc:0.8778 Train-Acc:0.817
I:291 Test-Acc:0.8794 Train-Acc:0.82
I:292 Test-Acc:0.8804 Train-Acc:0.824
I:293 Test-Acc:0.8779 Train-Acc:0.812
I:294 Test-Acc:0.8784 Train-Acc:0.816
I:295 Test-Acc:0.877 Train-Acc:0.817
I:296 Test-Acc:0.8767 Train-Acc:0.826
I:297 Test-Acc:0.8774 Train-Acc:0.816
I:298 Test-Acc:0.8774 Train-Acc:0.804
I:299 Test-Acc:0.8774 Train-Acc:0.814
"""

PRINTED = {
    "book-ch8": BOOK_CH8_LOG,
    "book-ch8-dropout": BOOK_CH8_DROPOUT_LOG,
    "book-ch8-batch": BOOK_CH8_BATCH_LOG,
    "book-ch9": BOOK_CH9_LOG,
    "book-ch10": BOOK_CH10_LOG,
}
# fmt: on


def relu(x):
    return (x >= 0) * x


def relu2deriv_of(fixed):
    return (lambda output: output > 0) if fixed else (lambda output: output >= 0)


def ch8(images, labels, iterations, fixed=False, after=None):
    """Chapter 8, the first listing: 784-40-10, relu, one image at a time."""
    relu2deriv = relu2deriv_of(fixed)
    np.random.seed(1)
    alpha, hidden_size, pixels_per_image, num_labels = (0.005, 40, 784, 10)
    weights_0_1 = 0.2 * np.random.random((pixels_per_image, hidden_size)) - 0.1
    weights_1_2 = 0.2 * np.random.random((hidden_size, num_labels)) - 0.1
    for j in range(iterations):
        for i in range(len(images)):
            layer_0 = images[i : i + 1]
            layer_1 = relu(np.dot(layer_0, weights_0_1))
            layer_2 = np.dot(layer_1, weights_1_2)
            layer_2_delta = labels[i : i + 1] - layer_2
            layer_1_delta = layer_2_delta.dot(weights_1_2.T) * relu2deriv(layer_1)
            weights_1_2 += alpha * layer_1.T.dot(layer_2_delta)
            weights_0_1 += alpha * layer_0.T.dot(layer_1_delta)
        if after:
            after(j, weights_0_1, weights_1_2)
    return weights_0_1, weights_1_2


def ch8_dropout(images, labels, iterations, fixed=False, after=None):
    """Chapter 8, dropout: 784-100-10, one image at a time, masks randint(2), kept doubled."""
    relu2deriv = relu2deriv_of(fixed)
    np.random.seed(1)
    alpha, hidden_size = (0.005, 100)
    pixels_per_image, num_labels = (784, 10)
    weights_0_1 = 0.2 * np.random.random((pixels_per_image, hidden_size)) - 0.1
    weights_1_2 = 0.2 * np.random.random((hidden_size, num_labels)) - 0.1
    for j in range(iterations):
        for i in range(len(images)):
            layer_0 = images[i : i + 1]
            layer_1 = relu(np.dot(layer_0, weights_0_1))
            dropout_mask = np.random.randint(2, size=layer_1.shape)
            layer_1 *= dropout_mask * 2
            layer_2 = np.dot(layer_1, weights_1_2)
            layer_2_delta = labels[i : i + 1] - layer_2
            layer_1_delta = layer_2_delta.dot(weights_1_2.T) * relu2deriv(layer_1)
            layer_1_delta *= dropout_mask
            weights_1_2 += alpha * layer_1.T.dot(layer_2_delta)
            weights_0_1 += alpha * layer_0.T.dot(layer_1_delta)
        if after:
            after(j, weights_0_1, weights_1_2)
    return weights_0_1, weights_1_2


def ch8_batch(images, labels, iterations, after=None):
    """Chapter 8, batch gradient descent: the update inside the per-example loop."""
    relu2deriv = relu2deriv_of(False)
    np.random.seed(1)
    batch_size = 100
    alpha = 0.001
    pixels_per_image, num_labels, hidden_size = (784, 10, 100)
    weights_0_1 = 0.2 * np.random.random((pixels_per_image, hidden_size)) - 0.1
    weights_1_2 = 0.2 * np.random.random((hidden_size, num_labels)) - 0.1
    for j in range(iterations):
        for i in range(int(len(images) / batch_size)):
            batch_start, batch_end = ((i * batch_size), ((i + 1) * batch_size))
            layer_0 = images[batch_start:batch_end]
            layer_1 = relu(np.dot(layer_0, weights_0_1))
            dropout_mask = np.random.randint(2, size=layer_1.shape)
            layer_1 *= dropout_mask * 2
            layer_2 = np.dot(layer_1, weights_1_2)
            for k in range(batch_size):
                layer_2_delta = (labels[batch_start:batch_end] - layer_2) / batch_size
                layer_1_delta = layer_2_delta.dot(weights_1_2.T) * relu2deriv(layer_1)
                layer_1_delta *= dropout_mask
                weights_1_2 += alpha * layer_1.T.dot(layer_2_delta)
                weights_0_1 += alpha * layer_0.T.dot(layer_1_delta)
        if after:
            after(j, weights_0_1, weights_1_2)
    return weights_0_1, weights_1_2


def ch9(images, labels, iterations, after=None):
    """Chapter 9: 784-100-10, tanh, softmax, dropout, batches of 100, alpha 2."""

    def tanh2deriv(output):
        return 1 - (output**2)

    def softmax(x):
        temp = np.exp(x)
        return temp / np.sum(temp, axis=1, keepdims=True)

    np.random.seed(1)
    alpha, hidden_size = (2, 100)
    pixels_per_image, num_labels = (784, 10)
    batch_size = 100
    weights_0_1 = 0.02 * np.random.random((pixels_per_image, hidden_size)) - 0.01
    weights_1_2 = 0.2 * np.random.random((hidden_size, num_labels)) - 0.1
    for j in range(iterations):
        for i in range(int(len(images) / batch_size)):
            batch_start, batch_end = ((i * batch_size), ((i + 1) * batch_size))
            layer_0 = images[batch_start:batch_end]
            layer_1 = np.tanh(np.dot(layer_0, weights_0_1))
            dropout_mask = np.random.randint(2, size=layer_1.shape)
            layer_1 *= dropout_mask * 2
            layer_2 = softmax(np.dot(layer_1, weights_1_2))
            layer_2_delta = (labels[batch_start:batch_end] - layer_2) / (
                batch_size * layer_2.shape[0]
            )
            layer_1_delta = layer_2_delta.dot(weights_1_2.T) * tanh2deriv(layer_1)
            layer_1_delta *= dropout_mask
            weights_1_2 += alpha * layer_1.T.dot(layer_2_delta)
            weights_0_1 += alpha * layer_0.T.dot(layer_1_delta)
        if after:
            after(j, weights_0_1, weights_1_2)
    return weights_0_1, weights_1_2


def ch10(images, labels, iterations, fixed=False, after=None):
    """Chapter 10: 16 kernels of 3x3, tanh, dropout, softmax, batches of 128, alpha 2.

    The notebook's code as it ran (its stored output comes from hidden_size = 25 * 25 * 16:
    range(28 - 3) positions a row). fixed=True: 26 positions a row and kernels += alpha *
    k_update (descent), nothing else.
    """

    def tanh(x):
        return np.tanh(x)

    def tanh2deriv(output):
        return 1 - (output**2)

    def softmax(x):
        temp = np.exp(x)
        return temp / np.sum(temp, axis=1, keepdims=True)

    np.random.seed(1)
    alpha = 2
    num_labels = 10
    batch_size = 128
    input_rows = 28
    input_cols = 28
    kernel_rows = 3
    kernel_cols = 3
    num_kernels = 16
    extra = 1 if fixed else 0
    hidden_size = (
        (input_rows - kernel_rows + extra) * (input_cols - kernel_cols + extra)
    ) * num_kernels
    kernels = 0.02 * np.random.random((kernel_rows * kernel_cols, num_kernels)) - 0.01
    weights_1_2 = 0.2 * np.random.random((hidden_size, num_labels)) - 0.1
    for j in range(iterations):
        correct_cnt = 0
        for i in range(int(len(images) / batch_size)):
            batch_start, batch_end = ((i * batch_size), ((i + 1) * batch_size))
            layer_0 = images[batch_start:batch_end]
            layer_0 = layer_0.reshape(layer_0.shape[0], 28, 28)
            flattened_input, kernel_output = ch10_sections(layer_0, kernels, fixed)
            layer_1 = tanh(kernel_output.reshape(layer_0.shape[0], -1))
            dropout_mask = np.random.randint(2, size=layer_1.shape)
            layer_1 *= dropout_mask * 2
            layer_2 = softmax(np.dot(layer_1, weights_1_2))
            for k in range(batch_size):
                labelset = labels[batch_start + k : batch_start + k + 1]
                _inc = int(np.argmax(layer_2[k : k + 1]) == np.argmax(labelset))
                correct_cnt += _inc
            layer_2_delta = (labels[batch_start:batch_end] - layer_2) / (
                batch_size * layer_2.shape[0]
            )
            layer_1_delta = layer_2_delta.dot(weights_1_2.T) * tanh2deriv(layer_1)
            layer_1_delta *= dropout_mask
            weights_1_2 += alpha * layer_1.T.dot(layer_2_delta)
            l1d_reshape = layer_1_delta.reshape(kernel_output.shape)
            k_update = flattened_input.T.dot(l1d_reshape)
            if fixed:
                kernels += alpha * k_update
            else:
                kernels -= alpha * k_update
        if after:
            after(j, kernels, weights_1_2)
    return kernels, weights_1_2


def ch10_sections(layer_0, kernels, fixed=False):
    """The listing's patches of images (n, 28, 28) and its kernel_output."""
    kernel_rows, kernel_cols = (3, 3)
    extra = 1 if fixed else 0

    def get_image_section(layer, row_from, row_to, col_from, col_to):
        section = layer[:, row_from:row_to, col_from:col_to]
        return section.reshape(-1, 1, row_to - row_from, col_to - col_from)

    sects = list()
    for row_start in range(layer_0.shape[1] - kernel_rows + extra):
        for col_start in range(layer_0.shape[2] - kernel_cols + extra):
            sect = get_image_section(
                layer_0, row_start, row_start + kernel_rows, col_start, col_start + kernel_cols
            )
            sects.append(sect)
    expanded_input = np.concatenate(sects, axis=1)
    es = expanded_input.shape
    flattened_input = expanded_input.reshape(es[0] * es[1], -1)
    kernel_output = flattened_input.dot(kernels)
    return flattened_input, kernel_output


def ch10_test(test_images, test_labels, kernels, weights_1_2, fixed=False):
    """Chapter 10's test: one image at a time, as the listing; the accuracy."""
    test_correct_cnt = 0
    for i in range(len(test_images)):
        layer_0 = test_images[i : i + 1]
        layer_0 = layer_0.reshape(layer_0.shape[0], 28, 28)
        _, kernel_output = ch10_sections(layer_0, kernels, fixed)
        layer_1 = np.tanh(kernel_output.reshape(layer_0.shape[0], -1))
        layer_2 = np.dot(layer_1, weights_1_2)
        test_correct_cnt += int(np.argmax(layer_2) == np.argmax(test_labels[i : i + 1]))
    return test_correct_cnt / float(len(test_images))


def run_test(test_images, test_labels, weights_0_1, weights_1_2, hidden=relu):
    """The listings' test: one image at a time; (error, accuracy) over the test images."""
    error, correct_cnt = (0.0, 0)
    for i in range(len(test_images)):
        layer_0 = test_images[i : i + 1]
        layer_1 = hidden(np.dot(layer_0, weights_0_1))
        layer_2 = np.dot(layer_1, weights_1_2)
        error += np.sum((test_labels[i : i + 1] - layer_2) ** 2)
        correct_cnt += int(np.argmax(layer_2) == np.argmax(test_labels[i : i + 1]))
    return error / float(len(test_images)), correct_cnt / float(len(test_images))
