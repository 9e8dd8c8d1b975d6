using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Hybrid.Training;

/// <summary>
/// Adam (Kingma and Ba), the same update as TorchSharp's and with the same state and checkpoint format, but every
/// scalar operand is created, kept alive and disposed explicitly. TorchSharp's own step passes temporary
/// <see cref="Scalar"/>s (β, 1 − β, −lr/(1 − β₁ᵗ)) to native calls without keeping them reachable: a garbage collection
/// during such a call (any thread allocating) lets the finaliser free the scalar under libtorch, which then fails in
/// <c>Scalar::toDouble</c> ("Expected false to be true") or reads garbage. Seen as rare, load-dependent failures of
/// flow training; this class removes the race. Its type name is "Adam", so checkpoints move freely between the two.
/// </summary>
public sealed class Adam : TorchSharp.Modules.Adam
{
    /// <summary>Adam over <paramref name="parameters"/> with learning rate <paramref name="lr"/> and betas (β₁, β₂).</summary>
    public Adam(IEnumerable<Parameter> parameters, double lr, double beta1, double beta2)
        : base(parameters, lr, beta1, beta2) { }

    /// <summary>One Adam update of every parameter with a gradient (no weight decay, AMSGrad or maximisation).</summary>
    public override Tensor step(Func<Tensor>? closure = null) =>
        _step<ParamGroup>(group =>
        {
            var options = (Options)group.Options;
            double beta1 = options.beta1!.Value, beta2 = options.beta2!.Value, eps = options.eps!.Value, lr = options.LearningRate!.Value;
            if (options.weight_decay!.Value != 0 || options.amsgrad!.Value || options.maximize!.Value)
                throw new NotSupportedException("Hybrid.Training.Adam implements plain Adam (no weight decay, AMSGrad or maximisation)");
            foreach (var param in group.Parameters)
            {
                var grad = param.grad;
                if (grad is null) continue;
                var state = (State)_state[param.Handle];
                state.step += 1;
                double correction1 = 1 - Math.Pow(beta1, state.step);
                double correction2 = 1 - Math.Pow(beta2, state.step);
                using var b1 = beta1.ToScalar();
                using var oneMinusB1 = (1 - beta1).ToScalar();
                using var b2 = beta2.ToScalar();
                using var oneMinusB2 = (1 - beta2).ToScalar();
                using var root2 = Math.Sqrt(correction2).ToScalar();
                using var epsilon = eps.ToScalar();
                using var stepSize = (-(lr / correction1)).ToScalar();
                state.exp_avg.mul_(b1).add_(grad, alpha: oneMinusB1);
                using var conj = grad.conj();
                state.exp_avg_sq.mul_(b2).addcmul_(grad, conj, value: oneMinusB2);
                using var root = state.exp_avg_sq.sqrt();
                using var denom = root.div(root2).add_(epsilon);
                param.addcdiv_(state.exp_avg, denom, value: stepSize);
            }
        }, closure);
}
