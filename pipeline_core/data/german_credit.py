"""The German credit spec (DESIGN.md §6) and a seeded generator of data with its schema.

The real IBM sample may not be committed, so demos and tests use data drawn from a
one-factor Gaussian copula fitted to it: each applicant has a latent risk propensity
``u``; every feature is a noisy reading of ``u`` mapped through that feature's marginal
distribution (categories ordered by their observed risk rate, integer levels, or the
quantiles of the continuous columns); the label is drawn from ``sigmoid(k*u + b)``.
This keeps the marginals, the direction and strength of each feature's relation to the
label, and the positive correlation between the numeric columns that the real data
shows, including the skew of outcomes against applicants over about 45.

The parameters below were fitted to the real file by ``bench/calibrate_generator.py``:
marginals and quantiles are the file's, each loading matches that feature's univariate
ROC AUC, and the intercept matches the share of "Risk" (33.4%). The default model then scores
ROC AUC 0.86 on the real file and about 0.87 on generated data of the same size.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import expit, ndtr

from pipeline_core.data.expectations import Adversarial, Case, Expectations, Invariance, Monotone
from pipeline_core.data.spec import DataSpec, FeatureSpec, GroupSpec, ProtectedAttribute, Thresholds

COLUMNS: tuple[str, ...] = (
    "CheckingStatus", "LoanDuration", "CreditHistory", "LoanPurpose", "LoanAmount",
    "ExistingSavings", "EmploymentDuration", "InstallmentPercent", "Sex", "OthersOnLoan",
    "CurrentResidenceDuration", "OwnsProperty", "Age", "InstallmentPlans", "Housing",
    "ExistingCreditsCount", "Job", "Dependents", "Telephone", "ForeignWorker",
)
TARGET = "Risk"

# Categories in increasing order of observed risk, with their share of applicants.
CATEGORICAL_MARGINALS: dict[str, tuple[tuple[str, float], ...]] = {
    "CheckingStatus": (("less_0", 0.280), ("0_to_200", 0.261), ("greater_200", 0.061), ("no_checking", 0.399)),
    "CreditHistory": (("no_credits", 0.023), ("all_credits_paid_back", 0.154), ("credits_paid_to_date", 0.298),
                      ("prior_payments_delayed", 0.337), ("outstanding_credit", 0.188)),
    "LoanPurpose": (("car_new", 0.189), ("car_used", 0.162), ("retraining", 0.033), ("vacation", 0.041),
                    ("furniture", 0.171), ("business", 0.029), ("education", 0.033), ("radio_tv", 0.151),
                    ("appliances", 0.112), ("repairs", 0.057), ("other", 0.023)),
    "ExistingSavings": (("less_100", 0.371), ("100_to_500", 0.227), ("500_to_1000", 0.216),
                        ("greater_1000", 0.112), ("unknown", 0.075)),
    "EmploymentDuration": (("unemployed", 0.059), ("less_1", 0.181), ("1_to_4", 0.294), ("4_to_7", 0.280),
                           ("greater_7", 0.186)),
    "Sex": (("female", 0.379), ("male", 0.621)),
    "OthersOnLoan": (("none", 0.835), ("co-applicant", 0.143), ("guarantor", 0.022)),
    "OwnsProperty": (("real_estate", 0.217), ("savings_insurance", 0.332), ("car_other", 0.308), ("unknown", 0.143)),
    "InstallmentPlans": (("bank", 0.093), ("stores", 0.203), ("none", 0.703)),
    "Housing": (("rent", 0.213), ("own", 0.639), ("free", 0.148)),
    "Job": (("unemployed", 0.057), ("unskilled", 0.135), ("skilled", 0.680), ("management_self-employed", 0.128)),
    "Telephone": (("none", 0.588), ("yes", 0.412)),
    "ForeignWorker": (("yes", 0.975), ("no", 0.025)),
}

# Integer columns with few levels: level -> share, in increasing order.
DISCRETE_MARGINALS: dict[str, tuple[tuple[int, float], ...]] = {
    "InstallmentPercent": ((1, 0.103), (2, 0.238), (3, 0.327), (4, 0.241), (5, 0.087), (6, 0.004)),
    "CurrentResidenceDuration": ((1, 0.128), (2, 0.249), (3, 0.335), (4, 0.216), (5, 0.071), (6, 0.001)),
    "ExistingCreditsCount": ((1, 0.569), (2, 0.396), (3, 0.035), (4, 0.0004)),
    "Dependents": ((1, 0.835), (2, 0.165)),
}

# Continuous integer columns: the 0%, 5%, ..., 100% quantiles.
CONTINUOUS_QUANTILES: dict[str, tuple[int, ...]] = {
    "LoanDuration": (4, 4, 6, 8, 11, 13, 14, 16, 17, 19, 21, 23, 25, 26, 28, 29, 31, 33, 36, 40, 64),
    "LoanAmount": (250, 250, 250, 293, 860, 1327, 1749, 2099, 2475, 2850, 3238, 3640, 4060, 4521, 4906, 5355,
                   5817, 6302, 6899, 7744, 11676),
    "Age": (19, 19, 21, 23, 26, 28, 29, 31, 33, 34, 36, 37, 39, 40, 42, 44, 46, 48, 50, 54, 74),
}

# What each numeric feature can validly be (months, the loan's currency units, years, counts,
# percent): wide enough for any applicant, narrow enough to refuse what is not one (an age of -5
# or 250, a loan of 0 months). Every value of IBM's file lies inside.
VALID_RANGES: dict[str, tuple[float, float]] = {
    "LoanDuration": (1, 120),
    "LoanAmount": (1, 1_000_000),
    "InstallmentPercent": (0, 100),
    "CurrentResidenceDuration": (0, 50),
    "Age": (18, 100),
    "ExistingCreditsCount": (0, 20),
    "Dependents": (0, 20),
}

# What an applicant can change at no cost and without the bank checking it, to game the model: the loan's
# terms (asking for a little less, a little shorter, a lower instalment) and a telephone. The balances,
# savings, a guarantor, the loan's purpose and other instalment plans are facts the bank verifies against
# documents or the credit bureau: changing them is another application, not an evasion. History
# (CreditHistory, EmploymentDuration, ...), household, and Age, Sex, ForeignWorker are not the applicant's
# to change.
MUTABLE: tuple[str, ...] = ("LoanAmount", "LoanDuration", "InstallmentPercent", "Telephone")

# Loading of each feature on the latent propensity (fitted, see module docstring).
LOADINGS: dict[str, float] = {
    "CheckingStatus": 0.703, "LoanDuration": 0.669, "CreditHistory": 0.669, "LoanPurpose": 0.469,
    "LoanAmount": 0.684, "ExistingSavings": 0.562, "EmploymentDuration": 0.711, "InstallmentPercent": 0.643,
    "Sex": 0.137, "OthersOnLoan": 0.672, "CurrentResidenceDuration": 0.676, "OwnsProperty": 0.684, "Age": 0.683,
    "InstallmentPlans": 0.334, "Housing": 0.64, "ExistingCreditsCount": 0.662, "Job": 0.144, "Dependents": 0.493,
    "Telephone": 0.651, "ForeignWorker": 0.324,
}
# P(Risk | u) = sigmoid(LINK_SLOPE * u + LINK_INTERCEPT)
LINK_SLOPE = 3.0
LINK_INTERCEPT = -1.5


def german_credit_spec() -> DataSpec:
    """The German credit spec with the reference monitor settings of the IBM asset."""
    features = []
    for name in COLUMNS:
        if name in CATEGORICAL_MARGINALS:
            cats = tuple(sorted(c for c, _ in CATEGORICAL_MARGINALS[name]))
            features.append(FeatureSpec(name, "categorical", cats))
        else:
            features.append(FeatureSpec(name, "numeric", valid_range=VALID_RANGES[name]))
    return DataSpec(
        name="german_credit",
        target=TARGET,
        labels=("No Risk", "Risk"),
        favourable_label="No Risk",
        features=tuple(features),
        protected=(
            ProtectedAttribute("Sex", monitored=GroupSpec(values=("female",)), reference=GroupSpec(values=("male",))),
            ProtectedAttribute("Age", monitored=GroupSpec(range=(18, 25)), reference=GroupSpec(range=(26, 75))),
        ),
        thresholds=Thresholds(
            min_roc_auc=0.60,
            quality_min_records=100,
            disparate_impact=0.95,
            fairness_min_records=100,
            drift=0.10,
            drift_min_records=100,
        ),
        expectations=german_credit_expectations(),
    )


def german_credit_expectations() -> Expectations:
    """The model tests' cases and expectations for credit decisions.

    Category names follow IBM's sample, whose risk rates are not always what the names
    suggest (there ``greater_7`` years of employment carries more risk than ``less_1``), so
    the cases use values whose meaning and observed risk agree.
    """
    return Expectations(
        cases=(
            Case(
                "positive balance, credits paid back, owns real estate, small short loan, low instalments, savings",
                {
                    "CheckingStatus": "0_to_200",
                    "CreditHistory": "all_credits_paid_back",
                    "OwnsProperty": "real_estate",
                    "LoanDuration": 6,
                    "LoanAmount": 500,
                    "InstallmentPercent": 1,
                    "ExistingSavings": "100_to_500",
                },
                "No Risk",
            ),
            Case(
                "no checking account, three credits outstanding, large long loan, high instalments, no known assets",
                {
                    "CheckingStatus": "no_checking",
                    "CreditHistory": "outstanding_credit",
                    "ExistingCreditsCount": 3,
                    "LoanDuration": 48,
                    "LoanAmount": 10000,
                    "InstallmentPercent": 5,
                    "OwnsProperty": "unknown",
                    "ExistingSavings": "unknown",
                },
                "Risk",
            ),
        ),
        invariant=(
            Invariance("Telephone", 0.05, "owning a telephone has no bearing on creditworthiness"),
            Invariance("Sex", 0.05, "fairness expectation: sex must not decide credit"),
        ),
        monotone=(
            Monotone("LoanAmount", "increases_risk"),
            Monotone("LoanDuration", "increases_risk"),
        ),
        adversarial=Adversarial(mutable=MUTABLE),
    )


def generate_german_credit(
    n_rows: int = 5000,
    *,
    seed: int = 0,
    loadings: dict[str, float] | None = None,
    link: tuple[float, float] = (LINK_SLOPE, LINK_INTERCEPT),
) -> pd.DataFrame:
    """Draw ``n_rows`` applicants with the German credit schema; same seed, same frame."""
    if n_rows < 1:
        raise ValueError(f"n_rows must be at least 1, got {n_rows}")
    load = LOADINGS if loadings is None else {**LOADINGS, **loadings}
    rng = np.random.default_rng(seed)
    u = rng.standard_normal(n_rows)
    columns: dict[str, object] = {}
    for name in COLUMNS:
        rho = load[name]
        s = rho * u + np.sqrt(1.0 - rho**2) * rng.standard_normal(n_rows)
        p = ndtr(s)  # uniform on (0, 1), ordered like the latent
        if name in CATEGORICAL_MARGINALS:
            columns[name] = _from_marginal(p, CATEGORICAL_MARGINALS[name])
        elif name in DISCRETE_MARGINALS:
            columns[name] = _from_marginal(p, DISCRETE_MARGINALS[name]).astype(np.int64)
        else:
            q = np.asarray(CONTINUOUS_QUANTILES[name], dtype=float)
            columns[name] = np.rint(np.interp(p, np.linspace(0.0, 1.0, q.size), q)).astype(np.int64)
    risk = rng.random(n_rows) < expit(link[0] * u + link[1])
    frame = pd.DataFrame(columns)
    frame[TARGET] = np.where(risk, "Risk", "No Risk")
    return frame


def _from_marginal(p: np.ndarray, marginal: tuple[tuple[object, float], ...]) -> np.ndarray:
    values = np.array([v for v, _ in marginal], dtype=object)
    shares = np.array([s for _, s in marginal], dtype=float)
    edges = np.cumsum(shares / shares.sum())[:-1]
    return values[np.searchsorted(edges, p, side="right")]
