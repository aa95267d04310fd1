import { cardServiceFromEnvironment, cardUser, parseSignItems } from '../../shared/cards/setup';
import { cloudPlatform } from '../../shared/platform';
import { allowOnlyFields, defineHandler } from '../../shared/runtime';

/** signCard: ready `cardList` items (cardId + signed cardExt) for wx.addCard, for registered cards only. */
export const main = defineHandler({
  name: 'signCard',
  allow: ['miniprogram'],
  wxContext: () => cloudPlatform().getWXContext(),
  init: () => cardServiceFromEnvironment(),
  parse: (event) => {
    allowOnlyFields(event, ['cards']);
    return parseSignItems(event.cards);
  },
  run: async (items, { deps: cards, caller }) => ({ cardList: await cards.signCards(cardUser(caller), items) }),
});
