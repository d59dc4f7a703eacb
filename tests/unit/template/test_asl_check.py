"""The semantic ASL checker finds what moto's grammar check and cfn-lint do not."""

import copy

from sandbox.asl_check import check, placeholders

GOOD = {
    "StartAt": "Plan",
    "States": {
        "Plan": {"Type": "Pass", "Next": "Decide"},
        "Decide": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.skip", "BooleanEquals": True, "Next": "Done"}],
            "Default": "Each",
        },
        "Each": {
            "Type": "Map",
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                "StartAt": "Work",
                "States": {
                    "Work": {
                        "Type": "Task",
                        "Resource": "arn:aws:states:::lambda:invoke",
                        "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Record"}],
                        "End": True,
                    },
                    "Record": {"Type": "Pass", "End": True},
                },
            },
            "Next": "Both",
        },
        "Both": {
            "Type": "Parallel",
            "Branches": [{"StartAt": "A", "States": {"A": {"Type": "Succeed"}}}],
            "Next": "Done",
        },
        "Done": {"Type": "Succeed"},
    },
}


def broken(mutate):
    d = copy.deepcopy(GOOD)
    mutate(d)
    return check(d)


def test_a_well_linked_machine_passes():
    assert check(GOOD) == []


def test_transitions_to_unknown_states():
    assert broken(lambda d: d["States"]["Plan"].update(Next="Nowhere")) == [
        "Plan: transition to unknown state 'Nowhere'",
        "Decide: unreachable from StartAt",
        "Each: unreachable from StartAt",
        "Both: unreachable from StartAt",
        "Done: unreachable from StartAt",
    ]
    assert broken(lambda d: d["States"]["Decide"].update(Default="Gone")) == [
        "Decide: transition to unknown state 'Gone'",
        "Each: unreachable from StartAt",
        "Both: unreachable from StartAt",
    ]
    assert broken(lambda d: d.update(StartAt="Missing"))[0] == "StartAt 'Missing' is not a state"


def test_nested_machines_are_checked_with_their_path():
    def bad_catch(d):
        d["States"]["Each"]["ItemProcessor"]["States"]["Work"]["Catch"][0]["Next"] = "Elsewhere"

    assert broken(bad_catch) == [
        "Each/Work: transition to unknown state 'Elsewhere'",
        "Each/Record: unreachable from StartAt",
    ]
    assert broken(lambda d: d["States"]["Both"]["Branches"][0]["States"]["A"].update(Type="Pass")) == [
        "Both[0]/A: needs exactly one of Next and End"
    ]


def test_next_and_end_rules():
    assert broken(lambda d: d["States"]["Plan"].update(End=True)) == ["Plan: needs exactly one of Next and End"]
    assert broken(lambda d: d["States"]["Done"].update(Next="Plan")) == [
        "Done: a Succeed state takes neither Next nor End"
    ]


def test_features_moto_cannot_run_are_reported():
    def jsonata(d):
        d["QueryLanguage"] = "JSONata"
        d["States"]["Plan"]["Assign"] = {"x": 1}
        d["States"]["Each"]["ItemBatcher"] = {"MaxItemsPerBatch": 10}
        d["States"]["Each"]["ItemProcessor"]["ProcessorConfig"]["ExecutionType"] = "EXPRESS"

    assert broken(jsonata) == [
        "QueryLanguage JSONata does not run on moto; use JSONPath",
        "Plan: variables (Assign) do not run on moto",
        "Each: ItemBatcher is rejected by moto's parser",
        "Each: moto runs only STANDARD child executions of a Distributed Map",
    ]


def test_placeholders():
    assert placeholders('{"a": "${One}", "b": ${Two}, "c": "States.Format(\'{}\', $.x)"}') == {"One", "Two"}
