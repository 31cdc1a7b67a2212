"""Every config file loads for every agent variant and builds its network
against its real environment's spec (read in a child process)."""

import importlib
import re

import pytest

from seed_stac import builder
from seed_stac import config as config_lib
from seed_stac.learner.run import environment_spec

CONFIGS = {
    'cartpole': '',
    'catch': '',
    'atari': 'Pong,',
    'dmc_features': 'cartpole-swingup,',
    'dmc_pixels': 'cartpole-swingup,',
    'rwrl': 'walker-realworld_walk,medium,',
    'minatar': 'SpaceInvaders,',
    'gym': 'Acrobot-v1,',
    'dm_env': 'examples.corridor_dm_env:make_env,',
}


def _config(name, agent):
  module = importlib.import_module(f'configs.{name}')
  prefix = CONFIGS[name]
  return module.get_config(prefix + agent if prefix else agent)


@pytest.mark.parametrize('name', sorted(CONFIGS))
@pytest.mark.parametrize('agent', config_lib.AGENTS)
def test_config_loads_and_validates(name, agent):
  config = _config(name, agent)
  config_lib.validate(config)
  assert config.agent == agent
  assert config_lib.num_heads(config) == (3 if agent == 'stacx' else 1)


@pytest.mark.slow
@pytest.mark.parametrize(
    'name',
    ['cartpole', 'catch', 'atari', 'dmc_features', 'dmc_pixels', 'minatar', 'gym', 'dm_env'])
def test_config_builds_its_network(name):
  config = _config(name, 'stacx')
  spec = environment_spec(config)
  agent = builder.build_agent(config, spec)
  inputs = builder.dummy_inputs(spec, batch_size=2, time_steps=3)
  outputs, _ = agent.network(inputs, agent.network.initial_state(2))
  assert outputs.values.shape == (3, 2, 3)
  assert len(agent.metaparams.logit_variables) == 18


def test_rwrl_without_the_package_says_how_to_install():
  try:
    import importlib  # pylint: disable=import-outside-toplevel
    importlib.import_module('realworldrl_suite')
    pytest.skip('realworldrl_suite is installed')
  except ImportError:
    pass
  from seed_stac.envs import rwrl  # pylint: disable=import-outside-toplevel
  with pytest.raises(ImportError, match=re.escape(rwrl.INSTALL_COMMAND)):
    environment_spec(_config('rwrl', 'stac'))


def test_gym_config_picks_the_network_from_the_observation_space():
  from configs import gym as gym_config
  vectors = gym_config.get_config('Acrobot-v1')
  assert vectors.network.torso == 'mlp' and vectors.optimizer.name == 'adam'
  images = gym_config.get_config('ALE/Breakout-v5,impala')
  assert images.network.torso == 'nature' and images.algo.loss_reduction == 'sum'
  unregistered = gym_config.get_config('mypkg/NotYetRegistered-v0')
  assert unregistered.network.torso == 'mlp'


def test_atari_agent_and_torso_in_either_order():
  from configs import atari
  a, b = atari.get_config('Breakout,impala,nature'), atari.get_config('Breakout,nature,impala')
  assert a.to_dict() == b.to_dict()
  assert (a.agent, a.network.torso, a.optimizer.name, a.algo.loss_reduction) == ('impala', 'nature',
                                                                                 'adam', 'mean')
  paper = atari.get_config('Breakout')
  assert (paper.agent, paper.network.torso, paper.optimizer.name, paper.algo.loss_reduction,
          paper.learner.batch_size) == ('stac', 'resnet', 'rmsprop', 'sum', 32)
  for bad in ('Breakout,impala,stac', 'Breakout,nature,resnet', 'Breakout,convnet', ''):
    with pytest.raises(ValueError, match='GAME\\[,AGENT\\]\\[,TORSO\\]'):
      atari.get_config(bad)
