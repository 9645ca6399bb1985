"""soulsync/analysis: the evaluation and the code version that training and recalibration share."""
