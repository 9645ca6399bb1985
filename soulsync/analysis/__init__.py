"""The offline floor that training, `soulsync monitor` and `soulsync recalibrate` share, without
TensorFlow: figures of predictions against outcomes and their intervals, choosing each group's
decision rule, the drift reference saved in a card, reading exports of answers, the charts of
the reports, and the code behind a model's version. Needs scikit-learn and matplotlib (the train
and monitor extras); the service never imports it.
"""
