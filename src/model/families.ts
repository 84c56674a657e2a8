/** The family of a config, by `model_type`: the one place that maps a config to its graph and names. */
import { albertFamily } from './albert.js';
import { bertFamily } from './bert.js';
import type { ModelConfig } from './config.js';
import { debertaV2Family } from './deberta-v2.js';
import { distilBertFamily } from './distilbert.js';
import { electraFamily } from './electra.js';
import type { Family } from './family-spec.js';
import { robertaFamily } from './roberta.js';

export function familyOf(c: ModelConfig): Family {
  switch (c.modelType) {
    case 'distilbert':
      return distilBertFamily(c);
    case 'bert':
      return bertFamily(c);
    case 'roberta':
    case 'xlm-roberta':
    case 'camembert':
      return robertaFamily(c);
    case 'electra':
      return electraFamily(c);
    case 'albert':
      return albertFamily(c);
    case 'deberta-v2':
      return debertaV2Family(c);
  }
}
