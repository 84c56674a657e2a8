// The optimizer's update: PyTorch's AdamW over a flat float32 parameter, in place.
#include "kernels.h"

#include <cmath>

#include "parallel.h"

namespace qaft {

void AdamW(float* param, const float* grad, float* m, float* v, int64_t size, double lr, double beta1, double beta2,
           double eps, double weightDecay, int64_t step, double gradScale) {
  const double bc1 = 1.0 - std::pow(beta1, static_cast<double>(step));
  const double bc2 = 1.0 - std::pow(beta2, static_cast<double>(step));
  const float stepSize = static_cast<float>(lr / bc1);
  const float invSqrtBc2 = static_cast<float>(1.0 / std::sqrt(bc2));
  const float decay = static_cast<float>(1.0 - lr * weightDecay);
  // The complements come from the double betas: 1 - float(0.999) would be off by 1e-5 relative.
  const float b1 = static_cast<float>(beta1), b2 = static_cast<float>(beta2), e = static_cast<float>(eps);
  const float c1 = static_cast<float>(1.0 - beta1), c2 = static_cast<float>(1.0 - beta2);
  const float gs = static_cast<float>(gradScale);
  ParallelFor(size, kGrain, [&](int64_t lo, int64_t hi) {
    // locals: read through the captured references, the arrays could alias the scalars, which kept the loop scalar
    float *p = param, *mo = m, *vo = v;
    const float* gr = grad;
    const float b1l = b1, b2l = b2, c1l = c1, c2l = c2, gsl = gs, decayl = decay, stepl = stepSize, bc2l = invSqrtBc2,
                el = e;
    for (int64_t i = lo; i < hi; ++i) {
      const float g = gr[i] * gsl;
      const float mi = b1l * mo[i] + c1l * g;
      const float vi = b2l * vo[i] + c2l * g * g;
      mo[i] = mi;
      vo[i] = vi;
      p[i] = p[i] * decayl - stepl * mi / (std::sqrt(vi) * bc2l + el);
    }
  });
}

}  // namespace qaft
