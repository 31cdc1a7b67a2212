"""Any Gymnasium environment by id (env.kind='gym'), e.g. classic control.

Usage: --config=configs/gym.py:Acrobot-v1[,impala|stac|stacx]
A custom environment: --config=configs/gym.py:mypkg/MyEnv-v0
    --config.env.options.import_module=mypkg   (the package that registers it)

Vector observations get an MLP 64-64 and Adam on mean losses, as CartPole;
image observations (uint8 boxes) get the Nature CNN and RMSProp on summed
losses, as Atari. The choice is made from the environment's observation space
when it can be made here (a registered id), else the MLP.
"""

from seed_stac import config as config_lib


def _is_image(env_id: str) -> bool:
  try:
    import gymnasium  # pylint: disable=g-import-not-at-top
    from seed_stac.envs.gym import import_modules  # pylint: disable=g-import-not-at-top
    import_modules('', env_id)
    env = gymnasium.make(env_id)
  except Exception:  # pylint: disable=broad-except  # unregistered yet: decided at start
    return False
  try:
    space = env.observation_space
    return getattr(space, 'dtype', None) == 'uint8' and len(space.shape) == 3
  finally:
    env.close()


def get_config(arg='CartPole-v1'):
  env_id, _, agent = arg.partition(',')
  c = config_lib.default_config()
  c.agent = agent or 'stac'
  c.env.kind, c.env.name = 'gym', env_id
  c.env.options.import_module = ''
  c.env.options.make_kwargs = {}
  config_lib.use_small_feature_agent(c)
  if _is_image(env_id):  # as Atari, with these learner settings
    c.network.torso = 'nature'
    c.algo.reward_clip = 1.0
    c.optimizer.name = 'rmsprop'
    c.algo.loss_reduction = 'sum'
    c.optimizer.learning_rate = config_lib.default_config().optimizer.learning_rate
  return c
