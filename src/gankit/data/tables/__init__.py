"""Tables: typed columns (numerical, categorical, boolean, datetime, with missing values), the encodings tabular
generators train on, bundled and simulated tables. (Filled in by the tables issue.)"""
