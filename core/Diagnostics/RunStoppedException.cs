namespace Hybrid.Diagnostics;

/// <summary>
/// A run stopped because its own checks found that it cannot give trustworthy numbers (a chain left finite values,
/// training diverged, an exactness check failed). The message is the diagnosis for users: what happened, at which
/// step, and what to change. Command-line front ends report it in one line with exit code 1.
/// </summary>
public class RunStoppedException(string message) : Exception(message);
