"""Key factors / optimise page: a placeholder until the optimisation work lands."""

from __future__ import annotations

import streamlit as st

st.title("Key factors and optimisation")
st.info(
    "This page arrives with the optimisation work: which process settings drive harvest titer, "
    "and what to change in a running batch. Nothing is computed here yet. Until then, the "
    "attributions of each run are in its report (Train page) and the top variables behind "
    "each alarm on the Batch page."
)
