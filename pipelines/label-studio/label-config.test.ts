import { describe, expect, it } from 'vitest';
import { checkLabelConfig, findChoicesControl } from './label-config.ts';

describe('Label Studio label_config', () => {
  it('finds the first Choices on an Image or Text, with nested views, aliases and a comma toName', () => {
    const xml = `<View><Header value="Pick one"/><Image name="img" value="$image"/><Text name="t" value="$text"/>
      <View><Choices name="cls" toName="t,img"><View><Choice value="Cat" alias="cat"/><Choice value="Dog"/></View></Choices></View></View>`;
    expect(findChoicesControl(xml)).toEqual({ fromName: 'cls', toName: 't', dataKey: 'text', objectType: 'Text', labels: ['cat', 'Dog'] });
  });

  it('accepts an empty config and names what differs from the project', () => {
    expect(checkLabelConfig('<View/>', { modality: 'text', labels: ['a'] })).toBeNull();
    expect(checkLabelConfig('', { modality: 'text', labels: ['a'] })).toBeNull();
    const xml = '<View><Text name="t" value="$x"/><Choices name="c" toName="t"><Choice value="a"/><Choice value="c"/></Choices></View>';
    expect(() => checkLabelConfig(xml, { modality: 'text', labels: ['a', 'b'] })).toThrow(/Not in Furrow: c\. Missing from Label Studio: b\./);
    expect(() => checkLabelConfig(xml, { modality: 'vector', labels: ['a', 'c'] })).toThrow(/vector/);
    expect(() => checkLabelConfig('<View><Text', { modality: 'text', labels: ['a'] })).toThrow(/not well-formed/);
  });
});
