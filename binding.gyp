# The native engine's build (node-gyp); native/build.mjs runs it. qaft_cflags_cc is the one list of C++ flags, for
# Linux (cflags_cc) and macOS (xcode_settings). -ffp-contract=off: no fused multiply-adds anywhere, so kernels that
# must equal the op-by-op formulation bit for bit (layernorm.cc's y = normed·w + b) round a product and a sum
# separately as its two kernels do; GCC in ISO C++ mode never contracts, clang does within an expression unless told.
# qaft_warnings: the warnings the build is clean of, in full (node-gyp's -Wno-unused-parameter is taken back).
{
  "variables": {
    "qaft_warnings": ["-Wall", "-Wextra"],
    "qaft_cflags_cc": ["-O3", "-std=c++17", "-fno-math-errno", "-fno-trapping-math", "-ffp-contract=off"],
    "qaft_dnnl%": "<!(node -p \"process.env.QAFT_DNNL === '1' ? 1 : 0\")",
    "qaft_march%": "<!(node -p \"process.env.QAFT_MARCH || 'native'\")"
  },
  "targets": [
    {
      "target_name": "qaft_native",
      "sources": ["native/addon.cc", "native/matmul.cc", "native/elementwise.cc", "native/reduce.cc", "native/movement.cc", "native/optimizer.cc", "native/parallel.cc", "native/matmul-bf16.cc", "native/layernorm.cc", "native/attention.cc", "native/stop-signals.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS"],
      "cflags": ["<@(qaft_warnings)"],
      "cflags!": ["-Wno-unused-parameter"],
      "cflags_cc": ["<@(qaft_cflags_cc)"],
      "conditions": [
        ["OS=='mac'", {
          "defines": ["QAFT_ACCELERATE", "ACCELERATE_NEW_LAPACK"],
          "libraries": ["-framework Accelerate"],
          "xcode_settings": {
            "OTHER_CPLUSPLUSFLAGS": ["<@(qaft_cflags_cc)"],
            "WARNING_CFLAGS": ["<@(qaft_warnings)"],
            "WARNING_CFLAGS!": ["-Wno-unused-parameter"],
            "MACOSX_DEPLOYMENT_TARGET": "11.0"
          }
        }],
        ["OS=='linux'", {
          "include_dirs": [
            "/usr/include/x86_64-linux-gnu/openblas-pthread",
            "/usr/include/aarch64-linux-gnu/openblas-pthread",
            "/usr/include/openblas"
          ],
          "libraries": ["-lopenblas", "-lpthread"]
        }],
        ["OS=='linux' and qaft_march!='none'", {
          "cflags_cc": ["-march=<(qaft_march)"]
        }],
        ["OS=='linux' and qaft_dnnl==1", {
          "defines": ["QAFT_DNNL"],
          "libraries": ["-ldnnl", "-lgomp"]
        }]
      ]
    }
  ]
}
