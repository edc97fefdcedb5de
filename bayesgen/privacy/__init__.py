"""Differential privacy: the accountant and OpenDP's discrete noise mechanisms."""

from bayesgen.privacy.accountant import (
    LedgerEntry,
    PrivacyAccountant,
    epsilon_from_rho,
    rho_for_epsilon_delta,
)
from bayesgen.privacy.mechanisms import noisy_counts

__all__ = ["LedgerEntry", "PrivacyAccountant", "epsilon_from_rho", "noisy_counts", "rho_for_epsilon_delta"]
