"""The team sign-up benchmark (bench/teams.py), small: what it measures is what it claims."""

from bench import teams


def test_team_sign_up_benchmark_stays_exact_under_single_sign_ups(app, client):
    result = teams.run(app, members=8, singles=10, rounds=2)
    assert result["capacity"] == 12 and len(result["rounds"]) == 2
    for round_ in result["rounds"]:
        assert round_["team_status"] == 201 and round_["confirmed_in_db"] == round_["seat_counter"] == 12
        assert round_["team_confirmed"] + round_["team_waitlisted"] == 8 and round_["signups"] == 18
    assert result["all_exact"] is True and result["team_signup_ms"]["n"] == 2
