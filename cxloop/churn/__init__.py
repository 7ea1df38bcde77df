"""The churn stage's library: training, scoring and reports over the warehouse (no Prefect).

`training` reads ml.account_snapshots, fits, registers and promotes; `scoring` writes
ml.churn_scores; `reports` backs `cxloop churn status | train --csv | report`.
"""
