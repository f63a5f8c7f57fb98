"""The max-pool tie rules an assignment may choose (assignment.tie_rule), and what each means.

When several inputs of one pooling window share its maximum, the rule decides who
receives that window's upstream gradient.
"""
TIE_RULES = ("all", "split", "first")
TIE_RULE_TEXT = {
    "all": "every tied maximum receives the full upstream gradient",
    "split": "the k tied maxima share the upstream gradient, each receiving dout / k",
    "first": "only the first tied maximum in row-major order receives it",
}
