namespace Hybrid.Numerics;

/// <summary>
/// An iterative eigensolver stopped without the eigenpair it was asked for (residual above tolerance, or converged to
/// a level of the wrong symmetry). Derives from <see cref="System.InvalidOperationException"/>; front ends catch this
/// type, not a message, to report the diagnosis in one line.
/// </summary>
public class EigensolverNotConvergedException(string message) : System.InvalidOperationException(message);
