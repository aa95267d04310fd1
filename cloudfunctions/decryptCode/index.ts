import { cardServiceFromEnvironment, cardUser, parseCardId, parseEncryptCode } from '../../shared/cards/setup';
import { cloudPlatform } from '../../shared/platform';
import { allowOnlyFields, defineHandler } from '../../shared/runtime';

/** decryptCode: the real code behind an encrypt_code, for wx.openCard; the caller's own codes only. */
export const main = defineHandler({
  name: 'decryptCode',
  allow: ['miniprogram'],
  wxContext: () => cloudPlatform().getWXContext(),
  init: () => cardServiceFromEnvironment(),
  parse: (event) => {
    allowOnlyFields(event, ['cardId', 'encryptCode']);
    return { cardId: parseCardId(event.cardId), encryptCode: parseEncryptCode(event.encryptCode) };
  },
  run: (input, { deps: cards, caller }) => cards.decrypt(cardUser(caller), input.cardId, input.encryptCode),
});
