import { cardServiceFromEnvironment, cardUser, parseCardId, parseCode } from '../../shared/cards/setup';
import { cloudPlatform } from '../../shared/platform';
import { allowOnlyFields, defineHandler } from '../../shared/runtime';

/** consumeCode: redemption (核销) by staff the operator authorised; a repeated scan is answered, not repeated. */
export const main = defineHandler({
  name: 'consumeCode',
  allow: ['miniprogram'],
  wxContext: () => cloudPlatform().getWXContext(),
  init: () => cardServiceFromEnvironment(),
  parse: (event) => {
    allowOnlyFields(event, ['cardId', 'code']);
    return { cardId: parseCardId(event.cardId), code: parseCode(event.code) };
  },
  run: (input, { deps: cards, caller }) => cards.consume(cardUser(caller), input.cardId, input.code),
});
