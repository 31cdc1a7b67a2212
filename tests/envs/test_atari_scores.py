"""Human-normalized Atari scores."""

import pytest

from seed_stac.envs.atari import valid_games
from seed_stac.envs.atari_scores import REFERENCE_SCORES, human_normalized_score


def test_random_is_zero_and_human_is_one():
  assert human_normalized_score('Pong', -20.7) == pytest.approx(0.0)
  assert human_normalized_score('ALE/Pong-v5', 14.6) == pytest.approx(1.0)
  assert human_normalized_score('Breakout', 30.5 * 2 - 1.7) == pytest.approx(2.0)


def test_all_57_games_are_known_to_ale():
  assert len(REFERENCE_SCORES) == 57
  assert set(REFERENCE_SCORES) <= set(valid_games())


def test_unknown_game_lists_the_known_ones():
  with pytest.raises(ValueError, match="'Tetris'.*Alien"):
    human_normalized_score('Tetris', 1.0)
